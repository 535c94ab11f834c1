"""The FakeClock held while a task works in real time between two of its sleeps."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from gateway.core.clock import FakeClock

pytestmark = pytest.mark.asyncio


async def test_time_waits_for_a_woken_task_to_sleep_again() -> None:
    clock = FakeClock()
    stamps: list[float] = []
    reply = asyncio.Event()

    async def poller() -> None:
        while True:
            await clock.sleep(1.0)
            await reply.wait()  # a reply on the wire: real time, not the clock's
            reply.clear()
            stamps.append(clock.monotonic())

    task = asyncio.create_task(poller(), name="bus:test")
    clock.hold(lambda: None if clock.asleep(task) else task.get_name())
    try:
        advancing = asyncio.create_task(clock.advance(3.5))
        for _ in range(3):
            await asyncio.sleep(0.05)
            assert not advancing.done()
            reply.set()
        await advancing
        assert stamps == [1.0, 2.0, 3.0]
        assert clock.monotonic() == 3.5
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_task_that_never_sleeps_again_is_named() -> None:
    clock = FakeClock()

    async def stuck() -> None:
        await clock.sleep(1.0)
        await asyncio.Event().wait()

    task = asyncio.create_task(stuck(), name="bus:stuck")
    clock.hold(lambda: None if clock.asleep(task) else task.get_name(), budget_s=0.1)
    try:
        with pytest.raises(TimeoutError, match=r"at 1\.000 by bus:stuck"):
            await clock.advance(2.0)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
