"""A real `coldchain run` under systemd's default limit of 1,024 open files, against a thousand
slow connections from fifty client addresses (each sends half a request and stops): the API
answers throughout, the slow ones are closed when their header timeout passes, and the log
says so once instead of once per connection."""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from pathlib import Path

import pytest

from tests.e2e.support import CLINIC_HEADER, GatewayProcess

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

SLOW = 1000
PER_ADDRESS = 20
FILE_LIMIT = 1024
TIMEOUT_S = 6


def low_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def closed(stream: Stream) -> bool:
    reader, _ = stream
    return reader.at_eof() or reader.exception() is not None


async def caught_up(gateway: GatewayProcess, slow: list[Stream]) -> tuple[int, dict[str, int]]:
    """The slow connections the client still holds and the server's connection counts, once
    the client has seen every close the server made (an eviction reaches the client a moment
    after the server counts it)."""
    async with asyncio.timeout(TIMEOUT_S):
        while True:
            health = await gateway.get_json("/api/health")
            assert isinstance(health, dict)
            held = sum(not closed(stream) for stream in slow)
            if held <= health["http"]["open"]:
                return held, health["http"]
            await asyncio.sleep(0.05)


async def test_a_thousand_slow_connections_leave_the_api_reachable(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    header = CLINIC_HEADER.format(data_dir=tmp_path / "data")
    limits = f"port = 0\nidle_timeout_s = {TIMEOUT_S}\nheader_timeout_s = {TIMEOUT_S}\n"
    config.write_text(header.replace("port = 0\n", limits), encoding="utf-8")
    gateway = await GatewayProcess.start(config, preexec=low_file_limit)
    slow: list[Stream] = []
    try:
        host, port = gateway.host_port()
        for n in range(SLOW):
            client = n // PER_ADDRESS
            source = f"127.0.{1 + client // 200}.{2 + client % 200}"
            stream = await asyncio.open_connection(host, port, local_addr=(source, 0))
            stream[1].write(b"GET /api/health HTTP/1.1\r\nHost: clinic\r\nX-Slow: ")
            slow.append(stream)
        held, counts = await caught_up(gateway, slow)
        assert 0 < held <= counts["open"] <= 512, (held, counts)
        assert counts["evicted"] >= SLOW - 512

        latencies = []
        for _ in range(20):
            started = time.perf_counter()
            async with asyncio.timeout(5):
                health = await gateway.get_json("/api/health")
            latencies.append(time.perf_counter() - started)
            assert isinstance(health, dict)
            assert health["unit"] == "6101030203"

        async with asyncio.timeout(TIMEOUT_S * 3):
            while not all(closed(stream) for stream in slow):
                await asyncio.sleep(0.2)
        logged = gateway.logged(last=1_000_000)
        assert "Too many open files" not in logged
        assert logged.count("the most this gateway takes") == 1, logged
        assert logged.count("after its header timeout") == 1, logged
        print(
            f"slow connections: {SLOW} opened from {SLOW // PER_ADDRESS} addresses under a "
            f"{FILE_LIMIT}-file limit, {held} held at once, {counts['evicted']} evicted; API "
            f"latency median {statistics.median(latencies) * 1000:.0f} ms, max "
            f"{max(latencies) * 1000:.0f} ms; log {len(logged)} bytes"
        )
    finally:
        for _, writer in slow:
            writer.close()
        await gateway.kill()
