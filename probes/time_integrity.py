"""Time integrity on a gateway without a real-time clock.

A Raspberry Pi boots with its wall clock wherever fake-hwclock left it (or 1970) and only
learns the true time from NTP, possibly hours later. Readings and scans taken meanwhile are
stamped with the wrong wall time and flagged `clock_synced=False`. Their monotonic stamp,
which never jumps, is remembered; once the clock synchronises, each is corrected to
`synced_wall - (synced_monotonic - its_monotonic)`. Pending stamps live in memory: a reboot
before synchronisation loses them (the monotonic clock restarts), and those rows stay flagged
and uncorrected, which is the honest answer.

`TimeIntegrity` is pure (fed the clock's now/monotonic and the synchronised state);
`kernel_clock_synced` is the one function that asks the system.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from probes.reading import Reading

#: systemd-timesyncd touches this file once the clock is synchronised (systemd >= 239).
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")


@dataclass(frozen=True, slots=True)
class Stamp:
    taken_at: datetime
    clock_synced: bool
    monotonic: float


@dataclass(frozen=True, slots=True)
class Correction:
    """Move the row `key` from its unsynchronised `was` time to the corrected `taken_at`."""

    key: Hashable
    was: datetime
    taken_at: datetime


class TimeIntegrity:
    """Stamps acquisitions and corrects the unsynchronised ones when the clock synchronises."""

    def __init__(self, synced: bool, max_pending: int = 100_000) -> None:
        self.synced = synced
        self.max_pending = max_pending
        self._pending: dict[Hashable, tuple[datetime, float]] = {}
        self.forgotten = 0

    def stamp(self, now: datetime, monotonic: float) -> Stamp:
        return Stamp(now, self.synced, monotonic)

    def remember(self, key: Hashable, stamp: Stamp) -> None:
        """Keep an unsynchronised stamp (by the row's key, e.g. its seq) for correction."""
        if stamp.clock_synced:
            return
        if len(self._pending) >= self.max_pending:
            self._pending.pop(next(iter(self._pending)))
            self.forgotten += 1
        self._pending[key] = (stamp.taken_at, stamp.monotonic)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def update(self, synced: bool, now: datetime, monotonic: float) -> list[Correction]:
        """Feed the current synchronised state; on the change to synchronised, the corrections."""
        was, self.synced = self.synced, synced
        if was or not synced:
            return []
        corrections = [
            Correction(key, wall, now - timedelta(seconds=monotonic - mono))
            for key, (wall, mono) in self._pending.items()
        ]
        self._pending.clear()
        return corrections


def flag_unsynced(
    emit: Callable[[Reading], Awaitable[None]], synced: Callable[[], bool]
) -> Callable[[Reading], Awaitable[None]]:
    """Wrap a driver's `emit` so readings taken while the clock is unsynchronised carry
    `clock_synced=False`: one place for every driver (Modbus, BLE, serial)."""

    async def wrapped(reading: Reading) -> None:
        if reading.clock_synced and not synced():
            reading = replace(reading, clock_synced=False)
        await emit(reading)

    return wrapped


def kernel_clock_synced(flag: Path = TIMESYNC_FLAG) -> bool:
    """Whether the system clock is synchronised: systemd-timesyncd's flag file, else the
    kernel's NTP status through `adjtimex` (STA_UNSYNC clear)."""
    if flag.exists():
        return True
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        buffer = ctypes.create_string_buffer(256)  # struct timex, zeroed: modes = 0 reads
        state = int(libc.adjtimex(buffer))
    except (OSError, AttributeError):
        return False
    time_error = 5  # TIME_ERROR: clock not synchronised
    return state >= 0 and state != time_error and os.name == "posix"
