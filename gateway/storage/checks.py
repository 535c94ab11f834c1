"""Calibration checks and the manual temperature record in their own SQLite file.

Both are evidence kept for inspection: rows are only added, each with the account that entered
it and when. Times are whole milliseconds since the epoch (UTC); a manual record also keeps its
China-time day and half-day, unique per compartment, so the database itself refuses a second
morning record even if two requests race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from gateway.checks.manual_readings import HalfDay, ManualReading
from gateway.checks.system_checks import THROTTLE
from gateway.core.errors import StoreError
from gateway.storage.readings import from_millis, to_millis
from gateway.storage.registry import CHECKS
from gateway.storage.sqlite_file import FileBacked, SqliteFile, Synchronous

_CALIBRATION_COLUMNS = (
    "id, probe, compartment, checked_at, reference_c, probe_c, probe_taken_at, probe_seq,"
    " difference_c, tolerance_c, passed, thermometer, note, who, recorded_at"
)
_MANUAL_COLUMNS = (
    "id, compartment, day, half, taken_at, temperature, excursion, recorder, recorder_name,"
    " recorded_at, note"
)
_OPENED_KEY = "first_opened_at"


class ChecksStoreError(StoreError):
    """The checks file could not be read or written."""


class DuplicateRecordError(ChecksStoreError):
    """A second record for a half-day that has one (the UNIQUE constraint)."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """One calibration check as stored."""

    probe: str
    compartment: str
    checked_at: datetime
    reference_c: float
    probe_c: float
    probe_taken_at: datetime
    probe_seq: int
    difference_c: float
    tolerance_c: float
    passed: bool
    thermometer: str
    note: str
    who: str
    recorded_at: datetime
    id: int | None = None


class ChecksStore(FileBacked):
    def __init__(self, path: Path, now: datetime, *, synchronous: Synchronous = "NORMAL") -> None:
        """`now` is remembered as the first opening: reminders count from it."""
        self.path = path
        self._file = SqliteFile(
            path,
            what=CHECKS.what,
            migrations=CHECKS.migrations,
            synchronous=synchronous,
            error=ChecksStoreError,
            integrity=DuplicateRecordError,
        )
        with self._file.transaction("write meta to") as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (_OPENED_KEY, str(to_millis(now))),
            )
        rows = self._file.fetch("SELECT value FROM meta WHERE key = ?", (_OPENED_KEY,))
        self.first_opened_at = from_millis(int(rows[0][0]))

    # -- calibrations ----------------------------------------------------------------------

    def add_calibration(self, check: Calibration) -> Calibration:
        with self._file.transaction("record a calibration in") as conn:
            cursor = conn.execute(
                f"INSERT INTO calibrations ({_CALIBRATION_COLUMNS}) VALUES"  # noqa: S608
                " (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _calibration_values(check),
            )
        return _calibration((cursor.lastrowid, *_calibration_values(check)))

    def calibrations(self, probe: str | None = None, limit: int = 500) -> list[Calibration]:
        """Newest first; of one probe or of all."""
        if probe is None:
            rows = self._file.fetch(
                f"SELECT {_CALIBRATION_COLUMNS} FROM calibrations"  # noqa: S608
                " ORDER BY id DESC LIMIT ?",
                (limit,),
            )
        else:
            rows = self._file.fetch(
                f"SELECT {_CALIBRATION_COLUMNS} FROM calibrations"  # noqa: S608
                " WHERE probe = ? ORDER BY id DESC LIMIT ?",
                (probe, limit),
            )
        return [_calibration(row) for row in rows]

    def needs_repair(self) -> dict[str, Calibration]:
        """Probes whose latest check failed, with that check (a later pass clears it)."""
        rows = self._file.fetch(
            f"SELECT {_CALIBRATION_COLUMNS} FROM calibrations WHERE id IN"  # noqa: S608
            " (SELECT max(id) FROM calibrations GROUP BY probe) AND passed = 0"
        )
        return {check.probe: check for check in map(_calibration, rows)}

    # -- the manual record -----------------------------------------------------------------

    def record_look(self, who: str, at: datetime) -> bool:
        """A responsible account looked at the fridges; False when it had a look kept within
        the last 10 minutes (nothing stored)."""
        since = to_millis(at - THROTTLE)
        with self._file.transaction("record a look at the system in") as conn:
            recent = conn.execute(
                "SELECT 1 FROM system_looks WHERE who = ? AND at > ? LIMIT 1", (who, since)
            ).fetchone()
            if recent is not None:
                return False
            conn.execute("INSERT INTO system_looks (at, who) VALUES (?, ?)", (to_millis(at), who))
        return True

    def looks(self, since: datetime, until: datetime) -> list[tuple[datetime, str]]:
        """The looks of [since, until], oldest first."""
        rows = self._file.fetch(
            "SELECT at, who FROM system_looks WHERE at >= ? AND at <= ? ORDER BY at",
            (to_millis(since), to_millis(until)),
        )
        return [(from_millis(at), str(who)) for at, who in rows]

    def add_manual(self, record: ManualReading) -> ManualReading:
        """Store a record; `DuplicateRecordError` when its half-day has one already."""
        with self._file.transaction("record a manual reading in") as conn:
            cursor = conn.execute(
                f"INSERT INTO manual_readings ({_MANUAL_COLUMNS}) VALUES"  # noqa: S608
                " (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.compartment,
                    record.day.isoformat(),
                    record.half.value,
                    to_millis(record.taken_at),
                    record.temperature,
                    record.excursion,
                    record.recorder,
                    record.recorder_name,
                    to_millis(record.recorded_at),
                    record.note,
                ),
            )
        if cursor.lastrowid is None:
            raise ChecksStoreError(f"{self.path}: SQLite returned no id for a manual reading")
        rows = self._file.fetch(
            f"SELECT {_MANUAL_COLUMNS} FROM manual_readings WHERE id = ?",  # noqa: S608
            (cursor.lastrowid,),
        )
        return _manual(rows[0])

    def manual_between(
        self, since: datetime, until: datetime, compartment: str | None = None
    ) -> list[ManualReading]:
        """Records taken in `[since, until)`, oldest first; of one compartment or all."""
        params: Sequence[object] = (to_millis(since), to_millis(until))
        sql = (
            f"SELECT {_MANUAL_COLUMNS} FROM manual_readings"  # noqa: S608
            " WHERE taken_at >= ? AND taken_at < ?"
        )
        if compartment is not None:
            sql += " AND compartment = ?"
            params = (*params, compartment)
        return [_manual(row) for row in self._file.fetch(sql + " ORDER BY taken_at, id", params)]

    def manual_days(self, first: date, last: date) -> list[tuple[str, date, HalfDay]]:
        """(compartment, day, half) of the records of days `first`..`last` (China time)."""
        rows = self._file.fetch(
            "SELECT compartment, day, half FROM manual_readings WHERE day >= ? AND day <= ?",
            (first.isoformat(), last.isoformat()),
        )
        return [(ref, date.fromisoformat(day), HalfDay(half)) for ref, day, half in rows]


def _calibration_values(check: Calibration) -> tuple[Any, ...]:
    return (
        check.probe,
        check.compartment,
        to_millis(check.checked_at),
        check.reference_c,
        check.probe_c,
        to_millis(check.probe_taken_at),
        check.probe_seq,
        check.difference_c,
        check.tolerance_c,
        check.passed,
        check.thermometer,
        check.note,
        check.who,
        to_millis(check.recorded_at),
    )


def _calibration(row: tuple[Any, ...]) -> Calibration:
    (
        id_,
        probe,
        compartment,
        checked_at,
        reference_c,
        probe_c,
        probe_taken_at,
        probe_seq,
        difference_c,
        tolerance_c,
        passed,
        thermometer,
        note,
        who,
        recorded_at,
    ) = row
    return Calibration(
        probe,
        compartment,
        from_millis(checked_at),
        float(reference_c),
        float(probe_c),
        from_millis(probe_taken_at),
        probe_seq,
        float(difference_c),
        float(tolerance_c),
        bool(passed),
        thermometer,
        note,
        who,
        from_millis(recorded_at),
        id_,
    )


def _manual(row: tuple[Any, ...]) -> ManualReading:
    id_, ref, day, half, taken_at, temperature, excursion, who, name, recorded_at, note = row
    return ManualReading(
        ref,
        date.fromisoformat(day),
        HalfDay(half),
        from_millis(taken_at),
        float(temperature),
        bool(excursion),
        who,
        name,
        from_millis(recorded_at),
        note,
        id_,
    )
