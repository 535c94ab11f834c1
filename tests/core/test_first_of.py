"""first_of: the first coroutine to finish wins, the others are cancelled and end."""

from __future__ import annotations

import asyncio

import pytest

from gateway.core.cancelling import first_of

pytestmark = pytest.mark.asyncio


async def test_the_others_are_cancelled_and_have_ended() -> None:
    ended: list[str] = []

    async def waits_forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            ended.append("waiter")

    await first_of(asyncio.sleep(0), waits_forever())
    assert ended == ["waiter"]


async def test_the_error_of_the_one_that_finished_is_raised() -> None:
    async def fails() -> None:
        raise ValueError("the work failed")

    with pytest.raises(ValueError, match="the work failed"):
        await first_of(fails(), asyncio.Event().wait())


async def test_a_cancellation_of_the_caller_is_not_swallowed() -> None:
    started = asyncio.Event()

    async def caller() -> None:
        started.set()
        await first_of(asyncio.Event().wait(), asyncio.Event().wait())

    task = asyncio.create_task(caller())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
