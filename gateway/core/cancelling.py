"""Cancellation done right: the first of several waits wins and the others end, and a
cancellation that a library swallowed is raised again."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


async def first_of(*awaitables: Coroutine[Any, Any, object]) -> None:
    """Wait until the first of these coroutines finishes; cancel the others and let them end.
    An error of the one that finished is raised.

    The cancelled ones are awaited with `asyncio.wait`, which never raises for them, so a
    cancellation of the calling task itself is never swallowed (a loop must stop when its
    TaskGroup is cancelled)."""
    tasks = [asyncio.ensure_future(item) for item in awaitables]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
    for task in done:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error


def raise_if_cancelling() -> None:
    """Re-raise a cancellation that a library swallowed.

    On Python 3.11, `asyncio.wait_for` (used inside aiomqtt and pymodbus) can return the inner
    result or error instead of CancelledError when both happen at once (fixed in 3.12), so a
    loop that handles that error would run on forever after the TaskGroup cancelled it. Called
    after every handled error in a loop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
