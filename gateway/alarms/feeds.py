"""What the alarm service reads from the rest of the gateway: committed readings (live from the
recorder, and back by seq from the readings store after a gap), the bus drivers' link health,
and the part of the settings its rules are built from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from gateway.alarms.links import LinkHealth
from gateway.settings import Settings
from gateway.storage.readings import StoredReading


class ReadingFeed(Protocol):
    """What the service needs of the recorder."""

    def subscribe(
        self, callback: Callable[[Sequence[StoredReading]], None]
    ) -> Callable[[], None]: ...


class ReadingLog(Protocol):
    """What the service needs of the readings store: reading back by seq after a gap."""

    def readings_after(self, seq: int, limit: int = ...) -> list[StoredReading]: ...

    def last_seq(self) -> int: ...


class BusDriver(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def health(self) -> LinkHealth: ...


def rules_of(settings: Settings) -> object:
    """What the alarm rules are built from: the probes, the fridges and the profiles."""
    return (settings.probes, settings.fridges, settings.profiles)
