"""Whether the wall clock is synchronised, and the correction of what was stamped while not.

`ClockSync` is asked by every driver (through `flag_unsynced`) and by the scanners whether to
flag what they stamp `clock_synced=false`. It looks at the system once a minute (`watch`):
`kernel_clock_synced` reads systemd-timesyncd's flag file and the kernel's NTP status, which
chrony and ntpd keep too. During an unsynchronised period it records the offset
`wall - monotonic` (`OffsetTimeline`); when the clock synchronises it corrects the flagged rows
of the tracked stores (readings, scans) written during the period, then looks once more at the
next check for rows that were still on their way to the store.

Until that correction, forwarders hold such readings back (`holds`), so the county does not
receive wrong times; after their hold limit they go out flagged. They are not held when no time
service runs (`time_service_running`: no systemd-timesyncd, chrony or ntpd, as in a container):
nothing would ever synchronise the clock. Readings from an earlier run (before a reboot) cannot
be corrected: the monotonic clock restarted with the machine, so nothing ties their stamps to
the true time. They stay flagged and are never held.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from gateway.core.clock import Clock
from gateway.core.errors import StoreError
from gateway.readings.time_correction import OffsetTimeline, offset_of
from gateway.storage.readings import StoredReading
from probes.time_integrity import kernel_clock_synced

log = logging.getLogger(__name__)

#: How often the clock's synchronisation is looked at again.
CLOCK_CHECK_S = 60.0
#: The name under which the readings store is tracked (the one forwarders hold rows of).
READINGS = "readings"
SCANS = "scans"
_CHUNK = 2000  # rows per step; the event loop runs between steps
#: What a running time service leaves in /run: systemd-timesyncd's state folder, chronyd's
#: folder, ntpd's pid file.
TIME_SERVICE_MARKS = (
    Path("/run/systemd/timesync"),
    Path("/run/chrony"),
    Path("/run/ntpd.pid"),
)


def time_service_running(marks: Sequence[Path] = TIME_SERVICE_MARKS) -> bool:
    """Whether a time service that may synchronise the clock runs on this machine."""
    return any(mark.exists() for mark in marks)


class TimeStore(Protocol):
    """A store whose unsynchronised rows can be corrected (ReadingStore, ScanStore)."""

    def last_seq(self) -> int: ...

    def unsynced_after(self, seq: int, limit: int = ...) -> list[tuple[int, datetime]]: ...

    def correct_times(self, corrections: Sequence[tuple[int, datetime]]) -> int: ...


@dataclass(slots=True)
class _Period:
    """One unsynchronised period of this run; `first_seqs`: each store's last seq before it."""

    timeline: OffsetTimeline
    began_mono: float
    began_at: datetime
    first_seqs: dict[str, int]
    passes: int = 0
    corrected: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CorrectionReport:
    """What the last synchronisation corrected. `shift_s`: how far the wall clock was stepped
    over the period (the time added to a row stamped at its start)."""

    at: datetime
    shift_s: float
    steps: int
    corrected: dict[str, int]
    left_flagged: dict[str, int]

    def to_json(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "offset_applied_s": round(self.shift_s, 3),
            "steps": self.steps,
            "corrected": dict(self.corrected),
            "left_flagged": dict(self.left_flagged),
        }


class ClockSync:
    """The clock's synchronisation state; call it for "is the clock synchronised now"."""

    def __init__(
        self,
        clock: Clock,
        synced: Callable[[], bool] = kernel_clock_synced,
        *,
        service: Callable[[], bool] = time_service_running,
        check_s: float = CLOCK_CHECK_S,
    ) -> None:
        """`synced` and `service` ask the system (injected in tests); both are asked here."""
        self._clock = clock
        self._ask = synced
        self._ask_service = service
        self.time_service = service()
        self.check_s = check_s
        self._stores: dict[str, TimeStore] = {}
        self._period: _Period | None = None
        self.last_correction: CorrectionReport | None = None
        self.synced = synced()
        self.since = clock.now()
        if not self.synced:
            self._begin()

    def __call__(self) -> bool:
        return self.synced

    def track(self, name: str, store: TimeStore) -> None:
        """Correct `store`'s flagged rows written from now on; call it right after opening."""
        self._stores[name] = store
        if self._period is not None:
            self._period.first_seqs.update(_last_seqs({name: store}))

    def holding(self, limit_s: float) -> bool:
        """Whether `holds` may say yes to any reading now (a forwarder checks no reading of
        its batch when not)."""
        period = self._period
        if period is None or not self.time_service or period.first_seqs.get(READINGS) is None:
            return False
        return self._clock.monotonic() - period.began_mono < limit_s

    def holds(self, item: StoredReading, limit_s: float) -> bool:
        """Whether a forwarder should wait before sending `item`: it was stamped by this run's
        unsynchronised clock, is not corrected yet, and the period began under `limit_s` ago."""
        period = self._period
        if period is None or item.reading.clock_synced or item.time_corrected:
            return False
        first = period.first_seqs.get(READINGS)
        if first is None or item.seq <= first:
            return False
        return self.holding(limit_s)

    async def watch(self) -> None:
        """Check every `check_s` until cancelled."""
        while True:
            await self._clock.sleep(self.check_s)
            await self.check()

    async def check(self) -> None:
        """Look at the clock once: flag from now on when it lost synchronisation, correct the
        period's rows when it gained it."""
        now_synced = self._ask()
        self.time_service = self._ask_service()
        now, mono = self._clock.now(), self._clock.monotonic()
        if now_synced != self.synced:
            (log.info if now_synced else log.warning)(
                "wall clock %s at %s", "synchronised" if now_synced else "NOT synchronised", now
            )
            self.since = now
        period = self._period
        if not now_synced:
            if period is None or period.passes > 0:  # a new period (a settling one ends here)
                self._begin()
            else:
                period.timeline.observe(mono, offset_of(now, mono))
            self.synced = False
            return
        if period is not None:
            if period.passes == 0:
                period.timeline.observe(mono, offset_of(now, mono))
                period.timeline.end(mono)
            if await self._correct(period, now):
                period.passes += 1
            if period.passes >= 2:
                self._period = None
        self.synced = True

    def _begin(self) -> None:
        now, mono = self._clock.now(), self._clock.monotonic()
        self._period = _Period(
            OffsetTimeline(mono, offset_of(now, mono)),
            mono,
            now,
            _last_seqs(self._stores),
        )

    async def _correct(self, period: _Period, now: datetime) -> bool:
        """Correct every tracked store's rows of the period; False when a store failed (the
        next check tries again)."""
        timeline = period.timeline
        left: dict[str, int] = {}
        for name, store in self._stores.items():
            after = period.first_seqs.get(name)
            if after is None:
                continue
            left[name] = 0
            try:
                while rows := store.unsynced_after(after, _CHUNK):
                    corrections = []
                    for seq, wall in rows:
                        shift = timeline.shift_for(wall)
                        if shift is None:
                            left[name] += 1
                        else:
                            corrections.append((seq, wall + shift))
                    changed = store.correct_times(corrections)
                    period.corrected[name] = period.corrected.get(name, 0) + changed
                    after = rows[-1][0]
                    await asyncio.sleep(0)
            except StoreError:
                log.exception("cannot correct the times of unsynchronised %s", name)
                return False
        report = CorrectionReport(
            now,
            timeline.offset - timeline.segments[0].offset,
            timeline.steps,
            dict(period.corrected),
            left,
        )
        if period.passes == 0:
            log.info(
                "clock stepped by %.3f s; corrected %s, left flagged %s",
                report.shift_s,
                report.corrected,
                report.left_flagged,
            )
        self.last_correction = report
        return True

    def health(self) -> dict[str, object]:
        """The clock's state for /api/health."""
        period = self._period
        warning = None
        if not self.synced:
            held = (
                "held from the county until their time is corrected"
                if self.time_service
                else "sent flagged: no time service (systemd-timesyncd, chrony, ntpd) runs"
            )
            warning = (
                f"the wall clock is not synchronised (since {self.since.isoformat()} by that"
                f" clock): readings are flagged clock_synced=false and {held}; fix: give the"
                " gateway network access to an NTP server (systemd-timesyncd or chrony;"
                " `timedatectl` shows the state)"
            )
        return {
            "synced": self.synced,
            "since": self.since.isoformat(),
            "time_service": self.time_service,
            "unsynced_period_began_at": None if period is None else period.began_at.isoformat(),
            "steps_seen": 0 if period is None else period.timeline.steps,
            "last_correction": None
            if self.last_correction is None
            else self.last_correction.to_json(),
            "warning": warning,
        }


def _last_seqs(stores: dict[str, TimeStore]) -> dict[str, int]:
    """Each store's last seq: its rows above it belong to the period. A store that cannot say
    is left out (its rows are then neither held nor corrected) rather than stop the watcher."""
    seqs = {}
    for name, store in stores.items():
        try:
            seqs[name] = store.last_seq()
        except StoreError:
            log.exception("cannot read the last seq of %s: its flagged rows stay uncorrected", name)
    return seqs
