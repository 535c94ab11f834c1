"""The supervisor: every service a named task of one TaskGroup, stopped stage by stage.

Shutdown order matters for "nothing measured is lost": the drivers stop first, then the jobs,
the recorder flushes everything still queued, alarms evaluate it, forwarders get a moment to
send it; the stores and the web server close after `run` returns. The supervisor never asks
what a service is: its `stage` says when it stops, its `settle` what it finishes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from itertools import groupby
from typing import Any

from gateway.runtime.service import Service

log = logging.getLogger(__name__)

#: Real seconds each stage may take to settle (forwarders drain) before it is cancelled.
SETTLE_S = 2.5
#: Real seconds a stage's tasks get to end once cancelled, before they are reported stuck.
CANCEL_S = 0.5
#: Seconds between cancellations of a task that has not stopped yet: a library may swallow a
#: cancellation (`asyncio.wait_for` on Python 3.11 returns the result when both happen at once).
RECANCEL_S = 0.05


async def supervise(services: Sequence[Service], until: Callable[[], Awaitable[None]]) -> None:
    """Run `services` until `until()` returns, then stop them stage by stage."""
    async with asyncio.TaskGroup() as group:
        tasks = [
            (service, group.create_task(service.run(), name=service.name)) for service in services
        ]
        await until()
        for stage, members in groupby(
            sorted(tasks, key=lambda item: item[0].stage), key=lambda item: item[0].stage
        ):
            staged = list(members)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SETTLE_S):
                    await asyncio.gather(*(service.settle() for service, _ in staged))
            await stop_tasks([task for _, task in staged])
            log.debug("stage %s stopped", stage.name.lower())


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]], within_s: float = CANCEL_S) -> None:
    """Cancel `tasks` until they are done, for at most `within_s` real seconds; a task still
    running after that is logged with where it is stuck."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_S)
    for task in pending:
        log.error("task %s did not stop within %.1f s: %r", task.get_name(), within_s, task)
    await asyncio.gather(*(task for task in tasks if task.done()), return_exceptions=True)
