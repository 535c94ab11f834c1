"""What the supervisor runs: services with one interface, each stopped at its stage.

Every part of the running gateway (the drivers, the recorder, the alarm service, each
forwarder and event lane, the ledger jobs, the excursions, the reports...) is a `Service`: a
name, a coroutine that runs until cancelled, its health, and `reconfigure`, which takes the
settings of a reload and applies what concerns it. The supervisor treats them all alike; the
`stage` says when a service stops, so that nothing measured is lost on the way out.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from enum import IntEnum
from typing import Any

from gateway.core.cancelling import first_of
from gateway.settings import Settings

Work = Coroutine[Any, Any, None]


class Stage(IntEnum):
    """When a service stops: lower stages stop first, and each stage is stopped whole before
    the next one begins."""

    DRIVERS = 0  # no new readings or scans
    JOBS = 1  # retention, reports, ledger jobs, excursions, clock sync, watchdog
    RECORDER = 2  # commits what the drivers gave it
    ALARMS = 3  # evaluates what was committed
    FORWARDERS = 4  # send the last committed readings and events, cursors saved


class Service(ABC):
    """One part of the running gateway. `run` runs until cancelled; `settle` is awaited
    (within the stop budget) before the service's stage is cancelled."""

    name: str
    stage: Stage

    @abstractmethod
    def run(self) -> Work: ...

    def health(self) -> object:
        return None

    async def reconfigure(self, settings: Settings) -> None:  # noqa: B027 (optional hook)
        """Apply what concerns this service in `settings` (a reload); the default: nothing."""

    async def settle(self) -> None:  # noqa: B027 (optional hook)
        """Finish what can be finished before being cancelled; the default: nothing."""


class Job(Service):
    """A coroutine as a service; `on_reload` (if any) receives the settings of a reload."""

    def __init__(
        self,
        name: str,
        stage: Stage,
        work: Callable[[], Work],
        *,
        on_reload: Callable[[Settings], None] | None = None,
        health: Callable[[], object] | None = None,
    ) -> None:
        self.name = name
        self.stage = stage
        self._work = work
        self._on_reload = on_reload
        self._health = health

    def run(self) -> Work:
        return self._work()

    def health(self) -> object:
        return None if self._health is None else self._health()

    async def reconfigure(self, settings: Settings) -> None:
        if self._on_reload is not None:
            self._on_reload(settings)


class SettingsJob(Service):
    """A coroutine made from the settings, made again from the new ones when a reload changes
    what `reads` picks out of them (the monthly report reads the probes and fridges)."""

    def __init__(
        self,
        name: str,
        stage: Stage,
        make: Callable[[Settings], Work],
        settings: Settings,
        reads: Callable[[Settings], object],
    ) -> None:
        self.name = name
        self.stage = stage
        self._make = make
        self._settings = settings
        self._reads = reads
        self._changed = asyncio.Event()
        self.restarts = 0

    async def run(self) -> None:
        while True:
            self._changed.clear()
            await first_of(self._make(self._settings), self._changed.wait())
            if not self._changed.is_set():
                return
            self.restarts += 1

    def health(self) -> object:
        return {"restarts": self.restarts}

    async def reconfigure(self, settings: Settings) -> None:
        before = self._reads(self._settings)
        self._settings = settings
        if self._reads(settings) != before:
            self._changed.set()
