"""One injectable clock for everything that reads the time or waits.

`SystemClock` is real time. `ScaledClock` runs N times faster than real time (the demo's
`--speed`), so simulated hours pass in minutes for the gateway and the simulated world alike.
`FakeClock` only moves when a test advances it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current wall time, UTC, timezone-aware."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps, in the same scale as `sleep`."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait this many clock seconds."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class ScaledClock:
    """Time that runs `speed` times faster than real time, starting from the real now."""

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.speed = speed
        self._start_wall = start or datetime.now(UTC)
        self._start_mono = time.monotonic()

    def now(self) -> datetime:
        return self._start_wall + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        return (time.monotonic() - self._start_mono) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self.speed)


class FakeClock:
    """A clock that stands still until `advance` moves it; sleepers wake in time order.

    A test whose tasks do real I/O between two sleeps (a poll over loopback) can `hold` the
    clock while they are at work, so that what they stamp carries the time they woke at.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._asleep: set[asyncio.Task[Any] | None] = set()
        self._busy: Callable[[], str | None] = lambda: None
        self._hold_budget_s = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._order), future))
        task = asyncio.current_task()
        self._asleep.add(task)
        try:
            await future
        finally:
            self._asleep.discard(task)

    def asleep(self, task: asyncio.Task[Any]) -> bool:
        """Whether `task` is waiting in this clock's `sleep`."""
        return task in self._asleep

    def hold(self, busy: Callable[[], str | None], budget_s: float = 30.0) -> None:
        """Keep time still while `busy()` names something at work in real time: `advance`
        waits for it (at most `budget_s` real seconds each time) before each move."""
        self._busy = busy
        self._hold_budget_s = budget_s

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its due time and letting it run."""
        target = self._mono + seconds
        while True:
            await _settle()
            await self._unheld()
            due = self._sleepers[0][0] if self._sleepers else None
            if due is None or due > target:
                break
            self._move_to(due)
            while self._sleepers and self._sleepers[0][0] <= self._mono:
                _, _, future = heapq.heappop(self._sleepers)
                if not future.done():
                    future.set_result(None)
        self._move_to(target)
        await _settle()

    async def _unheld(self) -> None:
        """Return once `busy()` names nothing, with no await after that check: the caller
        moves the clock before anything else runs."""
        deadline = time.monotonic() + self._hold_budget_s
        while (busy := self._busy()) is not None:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"simulated time held for {self._hold_budget_s} real seconds at "
                    f"{self._mono:.3f} by {busy}: it never went back to sleep"
                )
            await asyncio.sleep(0.002)

    def jump_wall(self, delta: timedelta) -> None:
        """Move the wall clock alone, as an NTP correction does; monotonic time is untouched."""
        self._now += delta

    def _move_to(self, mono: float) -> None:
        if mono > self._mono:
            self._now += timedelta(seconds=mono - self._mono)
            self._mono = mono


async def _settle(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)
