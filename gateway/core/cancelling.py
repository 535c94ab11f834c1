"""Cancellation that a library swallowed, raised again."""

from __future__ import annotations

import asyncio


def raise_if_cancelling() -> None:
    """Re-raise a cancellation that a library swallowed.

    On Python 3.11, `asyncio.wait_for` (used inside aiomqtt and pymodbus) can return the inner
    result or error instead of CancelledError when both happen at once (fixed in 3.12), so a
    loop that handles that error would run on forever after the TaskGroup cancelled it. Called
    after every handled error in a loop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
