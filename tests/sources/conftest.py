"""Shared fixtures for the BLE, serial and scanner tests: a fake clock and collectors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import pytest
import pytest_asyncio

from gateway.core.clock import FakeClock
from probes.reading import Reading
from probes.scan import Scan


class Collected:
    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.scans: list[Scan] = []

    async def reading(self, reading: Reading) -> None:
        self.readings.append(reading)

    async def scan(self, scan: Scan) -> None:
        self.scans.append(scan)

    def of(self, probe: str) -> list[Reading]:
        return [reading for reading in self.readings if reading.probe == probe]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def collected() -> Collected:
    return Collected()


Start = Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]


@pytest_asyncio.fixture
async def background() -> AsyncIterator[Start]:
    """Start coroutines as tasks; cancel and await them all at the end of the test."""
    tasks: list[asyncio.Task[None]] = []

    def start(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        tasks.append(task)
        return task

    yield start
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait (real time, bounded) until `check()` holds: for tests over real ptys."""
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.01)


Awaitable_ = Awaitable[None]
