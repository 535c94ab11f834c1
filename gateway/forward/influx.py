"""InfluxDB sinks: the v2 write API through influxdb-client, and the v1 /write endpoint.

Imported only when `[influx]` is configured (influxdb-client costs ~16 MB on top of aiohttp).

- `InfluxV2Sink` (InfluxDB 2.x, 3.x, 1.8+, VictoriaMetrics): `InfluxDBClientAsync` write API,
  precision ms, gzip by the client (`enable_gzip`). Its `ApiException` carries the status, the
  server's message and Retry-After, translated by http_errors.
- `InfluxV1Sink` (InfluxDB 1.x, which has no /api/v2/write before 1.8): POST /write?db=&rp=
  &precision=ms with Basic auth, gzip done here (level 1 in a worker thread: 10x cheaper than
  level 9 on a Pi for a few percent more bytes) with plain aiohttp, the library influxdb-client
  itself sits on.

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


def _ssl_context(settings: InfluxSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    if not settings.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _Never:
    """`wait_ready` of HTTP sinks: a retry only comes when its backoff ends."""

    async def wait_ready(self) -> None:
        await asyncio.Event().wait()


class InfluxV2Sink(_Never):
    def __init__(self, settings: InfluxSettings, encoder: LineEncoder) -> None:
        from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

        self._settings = settings
        self._encoder = encoder
        self._server = f"InfluxDB v2 API at {settings.url}"
        token = settings.token.get_secret_value() if settings.token else ""
        self._bucket = settings.bucket or ""
        self._org = settings.org or "-"
        self._client = InfluxDBClientAsync(
            settings.url,
            token=token,
            org=self._org,
            enable_gzip=settings.gzip,
            timeout=int(settings.timeout_s * 1000),
            ssl_context=_ssl_context(settings),
        )
        self._write = self._client.write_api()

    async def close(self) -> None:
        await self._client.close()  # type: ignore[no-untyped-call]

    async def send(self, batch: Sequence[StoredReading]) -> None:
        await self.send_body(self._encoder.encode(batch))

    async def send_body(self, body: bytes) -> None:
        """Write line protocol (precision ms) as it is."""
        from influxdb_client.domain.write_precision import WritePrecision
        from influxdb_client.rest import ApiException

        try:
            await self._write.write(
                self._bucket,
                self._org,
                body,
                write_precision=WritePrecision.MS,  # type: ignore[arg-type]
            )
        except ApiException as error:
            raise http_errors.for_status(
                self._server,
                int(error.status or 0),
                _text(error.message if error.message is not None else error.body),
                error.retry_after,
                fix_auth="set influx.token to a token with write permission on the bucket "
                '(InfluxDB 1.8: "user:password")',
                fix_missing=f'create the bucket "{self._bucket}" in org "{self._org}", or set'
                " influx.bucket (coldchain demo --influx-bucket) to an existing one",
            ) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise http_errors.for_exception(self._server, error) from None


class InfluxV1Sink(_Never):
    def __init__(self, settings: InfluxSettings, encoder: LineEncoder) -> None:
        self._settings = settings
        self._encoder = encoder
        self._server = f"InfluxDB 1.x at {settings.url} (database {settings.v1_db})"
        self._url = settings.url.rstrip("/") + "/write"
        params = {"db": settings.v1_db or "", "precision": "ms"}
        if settings.v1_rp:
            params["rp"] = settings.v1_rp
        self._params = params
        self._fix_missing = (
            f"create it (influx -execute 'CREATE DATABASE \"{params['db']}\"') or set"
            " influx.v1_db (coldchain demo --influx-v1-db) to an existing database"
        )
        self._auth = (
            aiohttp.BasicAuth(settings.username, settings.password.get_secret_value())
            if settings.username and settings.password
            else None
        )
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=settings.timeout_s),
            connector=aiohttp.TCPConnector(ssl=_ssl_context(settings)),
        )

    async def close(self) -> None:
        await self._session.close()

    async def send(self, batch: Sequence[StoredReading]) -> None:
        await self.send_body(self._encoder.encode(batch))

    async def send_body(self, body: bytes) -> None:
        """Write line protocol (precision ms) as it is."""
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self._settings.gzip:
            body = await asyncio.to_thread(gzip.compress, body, 1)
            headers["Content-Encoding"] = "gzip"
        try:
            async with self._session.post(
                self._url, params=self._params, data=body, headers=headers, auth=self._auth
            ) as response:
                if response.status in (200, 204):
                    return
                text = await response.text(errors="replace")
                raise http_errors.for_status(
                    self._server,
                    response.status,
                    _json_error(text),
                    response.headers.get("Retry-After"),
                    fix_auth="set influx.username and influx.password of a user with WRITE on"
                    " the database",
                    fix_missing=self._fix_missing,
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise http_errors.for_exception(self._server, error) from None


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return "" if value is None else str(value)


def _json_error(text: str) -> str:
    """InfluxDB 1.x answers {"error": "..."}; fall back to the raw text."""
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict) and "error" in data:
        return str(data["error"])
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
