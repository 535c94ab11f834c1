"""InfluxDB sinks: the v2 write API and the v1 /write endpoint, both plain aiohttp.

Imported only when `[influx]` is configured.

- `InfluxV2Sink` (InfluxDB 2.x, 3.x, 1.8+, VictoriaMetrics): POST /api/v2/write, precision ms,
  token auth. A write is one POST, so no client library: influxdb-client cost ~16 MB of
  resident memory and gzipped every batch at level 9 in the event loop, which made the
  backlog drain gzip-bound (bench/forward_drain.py).
- `InfluxV1Sink` (InfluxDB 1.x, which has no /api/v2/write before 1.8): POST /write?db=&rp=
  &precision=ms with Basic auth.

Both gzip at `GZIP_LEVEL` in a worker thread, and translate the server's status, message and
Retry-After with http_errors.

`open_influx_forwarder` wires a sink, a `LineEncoder` and a `Pump`.
"""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import aiohttp

from gateway.core.clock import Clock
from gateway.forward import http_errors
from gateway.forward.line_protocol import LineEncoder
from gateway.forward.pump import CommitFeed, Pump
from gateway.forward.settings import InfluxSettings
from gateway.forward.tags import Identity
from gateway.storage.readings import ReadingStore, StoredReading

NAME = "influx"

#: Levels 1 to 3 of zlib cost the same CPU on line protocol (within 7 %), and 3 writes 10 % fewer
#: bytes than 1 for a week of readings with two decimals (14.1 B a point against 15.6, from
#: 171 B plain): fewer bytes on a gateway's uplink for nothing. Level 6 writes 22 % fewer than
#: 3 but costs 2.3x the CPU, which a drain on a local network pays without a gain.
GZIP_LEVEL = 3


def _tls(settings: InfluxSettings) -> ssl.SSLContext | bool:
    """The TLS of the connections: a context of its own only for `ca_file`. Otherwise aiohttp's
    own contexts, built when aiohttp is imported (True: verify against the system's CAs; False:
    verify nothing), since each default context parses the system's CA bundle again (2.4 MB
    resident)."""
    if not settings.verify_tls:
        return False
    if settings.ca_file is None:
        return True
    return ssl.create_default_context(cafile=str(settings.ca_file))


class _Never:
    """`wait_ready` of HTTP sinks: a retry only comes when its backoff ends."""

    async def wait_ready(self) -> None:
        await asyncio.Event().wait()


class _HttpSink(_Never):
    """POSTs line protocol (precision ms) with aiohttp, gzipped at `GZIP_LEVEL` in a worker
    thread when `gzip` is on (zlib lets go of the GIL: the event loop goes on meanwhile)."""

    _server: str
    _fix_auth: str
    _fix_missing: str

    def __init__(
        self,
        settings: InfluxSettings,
        encoder: LineEncoder,
        *,
        url: str,
        params: dict[str, str],
        headers: dict[str, str],
    ) -> None:
        self._settings = settings
        self._encoder = encoder
        self._url = url
        self._params = params
        self._headers = headers | {"Content-Type": "text/plain; charset=utf-8"}
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=settings.timeout_s),
            connector=aiohttp.TCPConnector(ssl=_tls(settings)),
        )
        self._prepared: tuple[Sequence[StoredReading], asyncio.Task[bytes]] | None = None

    async def close(self) -> None:
        self._drop_prepared()
        await self._session.close()

    def prepare(self, batch: Sequence[StoredReading]) -> None:
        """Encode (and gzip) `batch` in a task; `send(batch)` takes the result."""
        self._drop_prepared()
        self._prepared = (batch, asyncio.create_task(self._encoded(batch)))

    def _drop_prepared(self) -> None:
        if self._prepared is not None:
            self._prepared[1].cancel()
            self._prepared = None

    async def send(self, batch: Sequence[StoredReading]) -> None:
        prepared = self._prepared
        if prepared is not None and prepared[0] is batch:
            self._prepared = None
            body = await prepared[1]
        else:
            body = await self._encoded(batch)
        await self._post(body)

    async def send_body(self, body: bytes) -> None:
        """Write line protocol (precision ms) as it is."""
        await self._post(await self._gzipped(body))

    async def _encoded(self, batch: Sequence[StoredReading]) -> bytes:
        return await self._gzipped(self._encoder.encode(batch))

    async def _gzipped(self, body: bytes) -> bytes:
        if self._settings.gzip:
            return await asyncio.to_thread(gzip.compress, body, GZIP_LEVEL)
        return body

    async def _post(self, body: bytes) -> None:
        headers = self._headers
        if self._settings.gzip:
            headers = headers | {"Content-Encoding": "gzip"}
        try:
            async with self._session.post(
                self._url, params=self._params, data=body, headers=headers
            ) as response:
                if response.status in (200, 204):
                    return
                text = await response.text(errors="replace")
                raise http_errors.for_status(
                    self._server,
                    response.status,
                    _json_error(text),
                    response.headers.get("Retry-After"),
                    fix_auth=self._fix_auth,
                    fix_missing=self._fix_missing,
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise http_errors.for_exception(self._server, error) from None


class InfluxV2Sink(_HttpSink):
    """POST /api/v2/write?org=&bucket=&precision=ms with `Authorization: Token ...`."""

    def __init__(self, settings: InfluxSettings, encoder: LineEncoder) -> None:
        bucket = settings.bucket or ""
        org = settings.org or "-"
        self._server = f"InfluxDB v2 API at {settings.url}"
        self._fix_auth = (
            "set influx.token to a token with write permission on the bucket "
            '(InfluxDB 1.8: "user:password")'
        )
        self._fix_missing = (
            f'create the bucket "{bucket}" in org "{org}", or set influx.bucket (coldchain demo'
            " --influx-bucket) to an existing one"
        )
        headers = (
            {"Authorization": f"Token {settings.token.get_secret_value()}"}
            if settings.token
            else {}
        )
        super().__init__(
            settings,
            encoder,
            url=settings.url.rstrip("/") + "/api/v2/write",
            params={"org": org, "bucket": bucket, "precision": "ms"},
            headers=headers,
        )


class InfluxV1Sink(_HttpSink):
    """POST /write?db=&rp=&precision=ms with Basic auth."""

    def __init__(self, settings: InfluxSettings, encoder: LineEncoder) -> None:
        params = {"db": settings.v1_db or "", "precision": "ms"}
        if settings.v1_rp:
            params["rp"] = settings.v1_rp
        self._server = f"InfluxDB 1.x at {settings.url} (database {settings.v1_db})"
        self._fix_auth = (
            "set influx.username and influx.password of a user with WRITE on the database"
        )
        self._fix_missing = (
            f"create it (influx -execute 'CREATE DATABASE \"{params['db']}\"') or set"
            " influx.v1_db (coldchain demo --influx-v1-db) to an existing database"
        )
        headers = (
            {
                "Authorization": aiohttp.encode_basic_auth(
                    settings.username, settings.password.get_secret_value()
                )
            }
            if settings.username and settings.password
            else {}
        )
        url = settings.url.rstrip("/") + "/write"
        super().__init__(settings, encoder, url=url, params=params, headers=headers)


def _json_error(text: str) -> str:
    """InfluxDB 1.x answers {"error": "..."}, 2.x {"code": ..., "message": "..."}; fall back
    to the raw text."""
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict):
        for key in ("error", "message"):
            if key in data:
                return str(data[key])
    return text


def make_sink(settings: InfluxSettings, encoder: LineEncoder) -> InfluxV1Sink | InfluxV2Sink:
    """The sink for the configured API; call inside the running event loop."""
    if settings.api == "v1":
        return InfluxV1Sink(settings, encoder)
    return InfluxV2Sink(settings, encoder)


@asynccontextmanager
async def open_influx_forwarder(
    settings: InfluxSettings,
    identity: Identity,
    store: ReadingStore,
    clock: Clock,
    *,
    recorder: CommitFeed | None = None,
) -> AsyncIterator[Pump]:
    """A ready pump; `await pump.run()` forwards until cancelled; the client closes on exit.

    Runtime use: `async with open_influx_forwarder(...) as pump: await pump.run()` as a named
    task ("forward-influx") in the supervisor's TaskGroup, started after the recorder."""
    sink = make_sink(settings, LineEncoder(identity, settings.measurement))
    try:
        yield Pump(
            NAME,
            settings.target,
            sink,
            store=store,
            clock=clock,
            settings=settings,
            recorder=recorder,
        )
    finally:
        await sink.close()
