"""sd_notify against a fake notify socket (a real unix datagram socket in a temp folder)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.core.clock import FakeClock, SystemClock
from gateway.ops.watchdog import Notifier, ping_interval, run_watchdog
from gateway.runtime import Gateway
from gateway.settings import parse_settings


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = tmp_path / "notify"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(path))
    receiver.setblocking(False)
    try:
        yield str(path), receiver
    finally:
        receiver.close()


def received(receiver: socket.socket) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    while True:
        try:
            data = receiver.recv(4096)
        except BlockingIOError:
            return messages
        messages.append(dict(line.split("=", 1) for line in data.decode().splitlines()))


async def wait_for(receiver: socket.socket, key: str) -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []
    async with asyncio.timeout(10):
        while not any(key in message for message in seen):
            await asyncio.sleep(0.01)
            seen += received(receiver)
    return seen


def test_ready_status_and_stopping_reach_the_socket(
    notify_socket: tuple[str, socket.socket],
) -> None:
    address, receiver = notify_socket
    with Notifier.from_environ({"NOTIFY_SOCKET": address}) as notifier:
        assert notifier.ready("serving")
        assert notifier.stopping("bye")
    assert received(receiver) == [
        {"READY": "1", "STATUS": "serving"},
        {"STOPPING": "1", "STATUS": "bye"},
    ]


def test_abstract_namespace_address() -> None:
    name = f"coldchain-test-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind("\0" + name)
        receiver.setblocking(False)
        with Notifier(f"@{name}") as notifier:
            assert notifier.reloading("again")
        assert received(receiver) == [{"RELOADING": "1", "STATUS": "again"}]


def test_without_systemd_nothing_is_sent() -> None:
    with Notifier.from_environ({}) as notifier:
        assert not notifier.ready("serving")


def test_a_vanished_socket_is_reported_not_raised(tmp_path: Path) -> None:
    with Notifier(str(tmp_path / "gone")) as notifier:
        assert not notifier.ready("serving")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4243"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({}, None),
    ],
)
def test_ping_interval_is_half_the_watchdog_for_this_process(
    environ: dict[str, str], expected: float | None
) -> None:
    assert ping_interval(environ, pid=4242) == expected


@pytest.mark.asyncio
async def test_pings_follow_the_clock(notify_socket: tuple[str, socket.socket]) -> None:
    address, receiver = notify_socket
    clock = FakeClock()
    count = iter(range(100))
    with Notifier(address) as notifier:
        task = asyncio.create_task(
            run_watchdog(notifier, clock, 15.0, lambda: f"tick {next(count)}"), name="watchdog"
        )
        await clock.advance(0)
        await clock.advance(14.9)
        assert received(receiver) == [{"WATCHDOG": "1", "STATUS": "tick 0"}]
        await clock.advance(0.1)
        await clock.advance(30)
        assert [message["STATUS"] for message in received(receiver)] == [
            "tick 1",
            "tick 2",
            "tick 3",
        ]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.asyncio
async def test_a_hung_event_loop_sends_no_pings(notify_socket: tuple[str, socket.socket]) -> None:
    """Pings come from the loop itself: while a callback blocks it, none is sent, so systemd's
    watchdog expires; once the loop runs again, pings resume."""
    address, receiver = notify_socket
    with Notifier(address) as notifier:
        task = asyncio.create_task(
            run_watchdog(notifier, SystemClock(), 0.005, lambda: "ok"), name="watchdog"
        )
        await wait_for(receiver, "WATCHDOG")
        received(receiver)
        time.sleep(0.2)  # noqa: ASYNC251 (the hang under test: 40 ping intervals)
        assert received(receiver) == []
        await wait_for(receiver, "WATCHDOG")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.asyncio
async def test_gateway_says_ready_pings_and_stopping(
    notify_socket: tuple[str, socket.socket], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address, receiver = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    settings = parse_settings(
        {
            "unit": {"code": "6101030203", "name": "clinic", "region_code": "610102"},
            "gateway": {"number": "10001", "data_dir": str(tmp_path / "data")},
            "http": {"host": "127.0.0.1", "port": 0},
        },
        "test",
    )
    clock = FakeClock()
    stop = asyncio.Event()
    gateway = Gateway(settings, clock)
    running = asyncio.create_task(gateway.run(stop), name="gateway")
    started: list[asyncio.Future[Any]] = [running, gateway.listening]
    await asyncio.wait(started, return_when=asyncio.FIRST_COMPLETED)
    assert not running.done(), running.exception()
    messages = await wait_for(receiver, "READY")
    assert messages[0]["STATUS"].startswith("serving on http://127.0.0.1:")
    await clock.advance(0)
    await clock.advance(25)
    pings = [message for message in received(receiver) if "WATCHDOG" in message]
    assert len(pings) == 2
    assert pings[-1]["STATUS"].startswith("running;")
    stop.set()
    await running
    assert {"STOPPING": "1", "STATUS": "stopping: flushing the store"} in received(receiver)
