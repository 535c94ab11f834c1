"""Barcode scans in SQLite: their own file, `scans.sqlite3`, next to the readings store.

A separate file keeps the scans' schema versioned on its own (`PRAGMA user_version`) without
touching the readings store's migrations, and lets the ledger open it alone. Guarantees match
the readings store: WAL, a scan committed before anyone sees it as done, `seq` from
`AUTOINCREMENT` (only grows, never reused), so consumers keep "last seq" cursors. Raw bytes
are a BLOB, stored exactly. Scans are human-paced (and flood-guarded), so each commits alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from gateway.core.errors import StoreError
from gateway.storage.readings import from_millis, to_millis
from gateway.storage.registry import SCANS
from gateway.storage.sqlite_file import FileBacked, SqliteFile, Synchronous
from probes.scan import Scan

_COLUMNS = "seq, raw, scanner, station, taken_at, clock_synced, time_corrected, account"


@dataclass(frozen=True, slots=True)
class StoredScan:
    """A committed scan. `account` posted it over HTTP and is who it acts for; None for a
    scanner wired to the gateway, which acts for the account its station is assigned to."""

    seq: int
    scan: Scan
    time_corrected: bool = False
    account: str | None = None


class ScanStore(FileBacked):
    def __init__(self, path: Path, *, synchronous: Synchronous = "NORMAL") -> None:
        self.path = path
        self._file = SqliteFile(
            path, what=SCANS.what, migrations=SCANS.migrations, synchronous=synchronous
        )

    def add(self, scan: Scan, account: str | None = None) -> StoredScan:
        """Commit one scan (posted by `account`, or None from a wired scanner); returns it
        with its sequence number."""
        with self._file.transaction("write to") as conn:
            cursor = conn.execute(
                "INSERT INTO scans (raw, scanner, station, taken_at, clock_synced, account)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    scan.raw,
                    scan.scanner,
                    scan.station,
                    to_millis(scan.taken_at),
                    scan.clock_synced,
                    account,
                ),
            )
        seq = cursor.lastrowid
        if seq is None:
            raise StoreError(f"{self.path}: SQLite returned no seq for a committed scan")
        return StoredScan(seq, scan, account=account)

    def after(self, seq: int, limit: int = 1000) -> list[StoredScan]:
        """Scans with a sequence number above `seq`, oldest first."""
        rows = self._file.fetch(
            f"SELECT {_COLUMNS} FROM scans WHERE seq > ? ORDER BY seq LIMIT ?",  # noqa: S608
            (seq, limit),
        )
        return [_stored(row) for row in rows]

    def unsynced_after(self, seq: int, limit: int = 5000) -> list[tuple[int, datetime]]:
        """(seq, taken_at) of scans stamped by an unsynchronised clock and not yet corrected,
        with a seq above `seq`, in seq order."""
        rows = self._file.fetch(
            "SELECT seq, taken_at FROM scans WHERE seq > ? AND clock_synced = 0"
            " AND time_corrected = 0 ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [(row_seq, from_millis(taken_at)) for row_seq, taken_at in rows]

    def correct_times(self, corrections: Sequence[tuple[int, datetime]]) -> int:
        """Set the corrected acquisition time of scans taken before the clock synchronised;
        `clock_synced` stays 0 (it records how the time was obtained)."""
        with self._file.transaction("correct times in") as conn:
            cursor = conn.executemany(
                "UPDATE scans SET taken_at = ?, time_corrected = 1 WHERE seq = ?",
                [(to_millis(moment), seq) for seq, moment in corrections],
            )
        return cursor.rowcount

    def last_seq(self) -> int:
        row = self._file.fetch("SELECT max(seq) FROM scans")
        return int(row[0][0] or 0)


def _stored(row: tuple[Any, ...]) -> StoredScan:
    seq, raw, scanner, station, taken_at, synced, corrected, account = row
    scan = Scan(bytes(raw), scanner, station, from_millis(taken_at), bool(synced))
    return StoredScan(seq, scan, bool(corrected), account)


ScanListener = Callable[[StoredScan], Awaitable[None]]


class ScanSink(Protocol):
    """Commits a scan and tells the listeners; `account` posted it (None: a wired scanner)."""

    def __call__(self, scan: Scan, account: str | None = None) -> Awaitable[StoredScan]: ...


def scan_sink(store: ScanStore, listeners: Sequence[ScanListener] = ()) -> ScanSink:
    """What scanner drivers and `POST /api/scans` call: commit first, then tell the listeners
    (alarm presence, the ledger)."""

    async def sink(scan: Scan, account: str | None = None) -> StoredScan:
        stored = store.add(scan, account)
        for listener in listeners:
            await listener(stored)
        return stored

    return sink
