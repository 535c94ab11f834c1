"""Bad answers and unreachable servers, against a small fake InfluxDB (aiohttp) and bad hosts."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from gateway.forward.errors import AuthError, RetryableError
from gateway.forward.influx import make_sink, open_influx_forwarder
from gateway.forward.line_protocol import LineEncoder
from gateway.forward.settings import InfluxSettings
from gateway.storage.readings import ReadingStore, StoredReading
from tests.forward.support import IDENTITY, RecordingClock, readings, wait_until
from tests.servers import free_port, make_tls

pytestmark = pytest.mark.asyncio

FAST = {"retry_initial_s": 0.05, "retry_max_s": 0.2, "idle_poll_s": 0.1}


@dataclass
class Fake:
    """Answers each write with `answer(lines)` -> (status, body, headers)."""

    answer: Callable[[list[str]], tuple[int, str, dict[str, str]]]
    received: list[list[str]] = field(default_factory=list)
    encodings: set[str] = field(default_factory=set)
    url: str = ""
    #: (path, query, Authorization header) of each request
    requests: list[tuple[str, dict[str, str], str | None]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def fake_influx(
    answer: Callable[[list[str]], tuple[int, str, dict[str, str]]],
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[Fake]:
    fake = Fake(answer)

    async def write(request: web.Request) -> web.Response:
        fake.encodings.add(request.headers.get("Content-Encoding", "identity"))
        fake.requests.append(
            (request.path, dict(request.query), request.headers.get("Authorization"))
        )
        body = await request.read()  # aiohttp inflates a gzip body itself
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        lines = body.decode().splitlines()
        status, text, headers = fake.answer(lines)
        if status < 300:
            fake.received.append(lines)
        return web.Response(status=status, text=text, headers=headers)

    app = web.Application()
    app.router.add_post("/api/v2/write", write)
    app.router.add_post("/write", write)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context)
    await site.start()
    fake.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()


def settings_for(url: str, api: str = "v2", **extra: object) -> InfluxSettings:
    target = {"bucket": "b", "token": "t", "org": "o"} if api == "v2" else {"v1_db": "db"}
    return InfluxSettings.model_validate({"url": url, **target, **FAST, **extra})


@contextlib.asynccontextmanager
async def pumping(
    settings: InfluxSettings, store: ReadingStore, clock: RecordingClock
) -> AsyncIterator[object]:
    async with open_influx_forwarder(settings, IDENTITY, store, clock) as pump:
        task = asyncio.create_task(pump.run())
        try:
            yield pump
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_a_backlog_goes_in_order_in_batches_each_reading_once(
    api: str, store: ReadingStore
) -> None:
    """The backlog lane reads and encodes each batch while the one before is in flight: the
    server still gets every reading once, oldest first, in batches of `batch_size`, through
    the API's own endpoint, parameters and credentials."""
    store.write_batch(readings(0, 23, probes=1))
    extra = {"batch_size": 5} | ({"username": "u", "password": "p"} if api == "v1" else {})
    async with (
        fake_influx(lambda lines: (204, "", {})) as fake,
        pumping(settings_for(fake.url, api, **extra), store, RecordingClock()) as pump,
    ):
        await wait_until(lambda: pump.stats().cursor == 23)  # type: ignore[attr-defined]
    assert [len(batch) for batch in fake.received] == [5, 5, 5, 5, 3]
    stamps = [int(line.rsplit(" ", 1)[1]) for batch in fake.received for line in batch]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 23
    if api == "v2":
        expected = ("/api/v2/write", {"org": "o", "bucket": "b", "precision": "ms"}, "Token t")
    else:
        basic = "Basic " + base64.b64encode(b"u:p").decode()
        expected = ("/write", {"db": "db", "precision": "ms"}, basic)
    assert fake.requests == [expected] * 5


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_429_and_503_honour_retry_after(api: str, store: ReadingStore) -> None:
    answers = iter(
        [
            (429, '{"message":"slow down"}', {"Retry-After": "7"}),
            (503, "busy", {"Retry-After": "3"}),
        ]
    )
    store.write_batch(readings(0, 20))
    clock = RecordingClock()
    async with (
        fake_influx(lambda lines: next(answers, (204, "", {}))) as fake,
        pumping(settings_for(fake.url, api), store, clock) as pump,
    ):
        await wait_until(lambda: pump.stats().cursor == 20)  # type: ignore[attr-defined]
    assert 7.0 in clock.sleeps
    assert 3.0 in clock.sleeps
    assert sum(len(batch) for batch in fake.received) == 20
    assert fake.encodings == {"gzip"}


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_a_400_sets_aside_only_the_refused_points(api: str, store: ReadingStore) -> None:
    items = readings(0, 40)
    store.write_batch(items)

    def answer(lines: list[str]) -> tuple[int, str, dict[str, str]]:
        if any("probe=P2" in line and "status=1i" in line for line in lines):
            return 400, '{"error":"partial write: field type conflict"}', {}
        return 204, "", {}

    async with (
        fake_influx(answer) as fake,
        pumping(settings_for(fake.url, api), store, RecordingClock()) as pump,
    ):
        await wait_until(lambda: pump.stats().cursor == 40)  # type: ignore[attr-defined]
        stats = pump.stats()  # type: ignore[attr-defined]
    refused = [i for i, item in enumerate(items) if item.probe == "P2" and item.temperature is None]
    assert stats.points_set_aside == len(refused) == 1
    assert "field type conflict" in str(stats.set_aside_recent[-1]["message"])
    assert sum(len(batch) for batch in fake.received) == 40 - len(refused)


async def test_401_is_a_clear_error_retried_slowly_and_the_data_is_kept(
    store: ReadingStore,
) -> None:
    state = {"token_ok": False}

    def answer(lines: list[str]) -> tuple[int, str, dict[str, str]]:
        if not state["token_ok"]:
            return 401, '{"code":"unauthorized","message":"unauthorized access"}', {}
        return 204, "", {}

    store.write_batch(readings(0, 10))
    clock = RecordingClock()
    async with (
        fake_influx(answer) as fake,
        pumping(settings_for(fake.url, auth_retry_s=90), store, clock) as pump,
    ):
        await wait_until(lambda: pump.stats().state == "auth_failed")  # type: ignore[attr-defined]
        stats = pump.stats()  # type: ignore[attr-defined]
        assert "refused our credentials (401)" in stats.last_error
        assert "fix: set influx.token" in stats.last_error
        assert stats.cursor == 0
        assert stats.backlog == 10
        assert 90 in clock.sleeps
        state["token_ok"] = True
        await wait_until(lambda: pump.stats().cursor == 10)  # type: ignore[attr-defined]


async def test_a_missing_v2_bucket_is_named_with_its_fix_retried_slowly(
    store: ReadingStore,
) -> None:
    def answer(lines: list[str]) -> tuple[int, str, dict[str, str]]:
        return 404, '{"code":"not found","message":"bucket \\"b\\" not found"}', {}

    store.write_batch(readings(0, 10))
    clock = RecordingClock()
    async with (
        fake_influx(answer) as fake,
        pumping(settings_for(fake.url, auth_retry_s=90), store, clock) as pump,
    ):
        await wait_until(lambda: pump.stats().state == "database_missing")  # type: ignore[attr-defined]
        stats = pump.stats()  # type: ignore[attr-defined]
    assert 'bucket "b" not found' in stats.last_error
    assert 'fix: create the bucket "b" in org "o"' in stats.last_error
    assert stats.cursor == 0
    assert 90 in clock.sleeps


async def send_one(settings: InfluxSettings) -> Exception:
    sink = make_sink(settings, LineEncoder(IDENTITY))
    try:
        await sink.send([StoredReading(1, readings(0, 1)[0])])
    except (RetryableError, AuthError) as error:
        return error
    finally:
        await sink.close()
    raise AssertionError("the send was expected to fail")


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_unreachable_server(api: str) -> None:
    error = await send_one(settings_for(f"http://127.0.0.1:{free_port()}", api))
    assert isinstance(error, RetryableError)
    assert "cannot connect" in str(error)


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_dns_failure(api: str) -> None:
    error = await send_one(settings_for("http://no-such-host.invalid:8086", api, timeout_s=5))
    assert isinstance(error, RetryableError)
    assert "cannot resolve the host name" in str(error)


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_tls_without_ca_file_trusts_the_system_and_verify_tls_false_nothing(
    api: str, tmp_path: Path
) -> None:
    """Without ca_file the system's CAs decide (the test's own CA is not among them); with
    verify_tls = false any certificate is taken."""
    tls = make_tls(tmp_path / "tls")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(tls.server_cert, tls.server_key)
    async with fake_influx(lambda lines: (204, "", {}), server_context) as fake:
        error = await send_one(settings_for(fake.url, api))
        assert isinstance(error, AuthError)
        assert "TLS certificate not accepted" in str(error)
        sink = make_sink(settings_for(fake.url, api, verify_tls=False), LineEncoder(IDENTITY))
        try:
            await sink.send([StoredReading(1, readings(0, 1)[0])])
        finally:
            await sink.close()
        assert len(fake.received) == 1


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_tls_certificate_mismatch(api: str, tmp_path: Path) -> None:
    tls = make_tls(tmp_path / "tls")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(tls.server_cert, tls.server_key)
    async with fake_influx(lambda lines: (204, "", {}), server_context) as fake:
        error = await send_one(settings_for(fake.url, api, ca_file=str(tls.other_ca)))
        assert isinstance(error, AuthError)
        assert "TLS certificate not accepted" in str(error)
        assert "fix: set ca_file" in str(error)
        good = settings_for(fake.url, api, ca_file=str(tls.ca))
        sink = make_sink(good, LineEncoder(IDENTITY))
        try:
            await sink.send([StoredReading(1, readings(0, 1)[0])])
        finally:
            await sink.close()
        assert len(fake.received) == 1
