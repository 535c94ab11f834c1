"""The edge's truth: readings in SQLite (WAL), with a small key-value `meta` table.

One process owns the database and writes it from the event loop in small batches; every call
here is synchronous and short. The sequence number (`seq`) is the readings table's
`INTEGER PRIMARY KEY AUTOINCREMENT`: it only grows, a rolled-back batch does not consume
numbers, and deleting the newest rows never lets a number be handed out twice, so forwarders can
keep "last acknowledged seq" cursors (in `meta`) across pruning and restarts.

Rows are kept small: the probe code lives once in `probes` and each reading stores its integer
id; `taken_at` is whole milliseconds since the epoch (UTC), so a reading reads back with its time
truncated to the millisecond; status is the small code of `STATUS_CODES`. A CHECK constraint
repeats `Reading`'s rule that only an ok reading carries a temperature; SQLite stores a NaN as
NULL, so an ok reading with a NaN temperature is rejected by it too (`InvalidReadingError`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import overload

from gateway.core.errors import StoreError
from gateway.storage.files import read_only
from gateway.storage.registry import READINGS
from gateway.storage.sqlite_file import FileBacked, SqliteFile, Synchronous
from probes.reading import STATUS_BY_CODE, STATUS_CODES, ProbeStatus, Reading

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_OK = STATUS_CODES[ProbeStatus.OK]

#: Forward migrations; entry i moves the schema from version i to i + 1 (`PRAGMA user_version`).
# Small pages for a write-heavy file of small rows: every commit rewrites the index page of
# each probe it touches, and 1 KiB pages halve the bytes an SD card gets per day
# (bench/sd_card_writes.py). Applies to files created from now on.
PAGE_SIZE = 1024


# Spelled out in full (no string building) so each query is a reviewable constant. The readings
# come as `Row`s: the status and both flags in one column (`row_flags`: 8 and 16 are its flags).
_QUERY_ALL = (
    "SELECT seq, probe_id, taken_at, temperature, humidity, battery,"
    " status + 8 * (clock_synced != 0) + 16 * (time_corrected != 0)"
    " FROM readings WHERE probe_id IN (SELECT id FROM probes)"
    " AND taken_at >= ? AND taken_at < ? ORDER BY taken_at, seq LIMIT ?"
)
_QUERY_PROBE = (
    "SELECT seq, probe_id, taken_at, temperature, humidity, battery,"
    " status + 8 * (clock_synced != 0) + 16 * (time_corrected != 0)"
    " FROM readings WHERE probe_id = ?"
    " AND taken_at >= ? AND taken_at < ? ORDER BY taken_at, seq LIMIT ?"
)
_QUERY_AFTER = (
    "SELECT seq, probe_id, taken_at, temperature, humidity, battery,"
    " status + 8 * (clock_synced != 0) + 16 * (time_corrected != 0)"
    " FROM readings WHERE seq > ? ORDER BY seq LIMIT ?"
)
_QUERY_LATEST = (
    "SELECT seq, probe_id, taken_at, temperature, humidity, battery,"
    " status + 8 * (clock_synced != 0) + 16 * (time_corrected != 0)"
    " FROM readings WHERE seq IN (SELECT (SELECT seq FROM readings WHERE probe_id = probes.id"
    " ORDER BY taken_at DESC, seq DESC LIMIT 1) FROM probes)"
)
_QUERY_BUCKETS = (
    "SELECT (taken_at - ?) / ? AS bucket, min(temperature), max(temperature), avg(temperature),"
    " count(temperature) FROM readings WHERE probe_id = ? AND taken_at >= ? AND taken_at < ?"
    " AND temperature IS NOT NULL GROUP BY bucket ORDER BY bucket"
)
#: The flags of `row_flags`, above every status code (`STATUS_CODES`: 0 to 4).
_SYNCED = 8
_CORRECTED = 16

_INSERT = (
    "INSERT INTO readings (probe_id, taken_at, status, temperature, humidity, battery,"
    " clock_synced) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class InvalidReadingError(StoreError):
    """A batch broke a constraint (e.g. an ok reading whose temperature is NaN); nothing of it
    was written."""


@dataclass(frozen=True, slots=True)
class StoredReading:
    """A committed reading and its sequence number."""

    seq: int
    reading: Reading
    time_corrected: bool = False


@dataclass(frozen=True, slots=True)
class TemperatureBucket:
    """The temperatures of one probe within one time bucket starting at `start`."""

    start: datetime
    low: float
    high: float
    mean: float
    count: int


def row_flags(status_code: int, clock_synced: bool, time_corrected: bool) -> int:
    """The last column of a `Row`: the status code (`STATUS_CODES`) + 8 if the clock was
    synchronised + 16 if the time was corrected."""
    return status_code + _SYNCED * clock_synced + _CORRECTED * time_corrected


def to_millis(moment: datetime) -> int:
    """Whole milliseconds since the epoch (exact integer arithmetic, truncating)."""
    return (moment - EPOCH) // _MS


def from_millis(millis: int) -> datetime:
    return EPOCH + timedelta(milliseconds=millis)


class _ProbeIds(dict[str, int]):
    """probe code -> id; an unknown code is inserted into `probes` on first use."""

    def __init__(self, store: ReadingStore) -> None:
        super().__init__()
        self._store = store

    def __missing__(self, code: str) -> int:
        probe_id = self._store._add_probe(code)
        self[code] = probe_id
        return probe_id


class ReadingStore(FileBacked):
    """Readings and meta in one SQLite file; see the module docstring for the guarantees."""

    def __init__(self, path: Path, *, synchronous: Synchronous = "NORMAL") -> None:
        self.path = path
        self._file = SqliteFile(
            path,
            what=READINGS.what,
            migrations=READINGS.migrations,
            synchronous=synchronous,
            integrity=InvalidReadingError,
            page_size=PAGE_SIZE,
        )
        self._ids = _ProbeIds(self)
        self._codes: dict[int, str] = {}
        try:
            for probe_id, code in self._file.fetch("SELECT id, code FROM probes"):
                self._ids[code] = probe_id
                self._codes[probe_id] = code
        except BaseException:
            self._file.close()
            raise

    # -- writing ---------------------------------------------------------------------------

    def write_batch(self, readings: Sequence[Reading]) -> int:
        """Commit readings in one transaction; returns the seq of the last one (or `last_seq()`
        when empty). Seqs are assigned contiguously in the given order."""
        conn = self._file.connection
        if not readings:
            return self.last_seq()
        ids = self._ids
        codes = STATUS_CODES
        # The hot path: one tuple per reading, no per-row function call. Consecutive readings
        # of one poll usually share a `taken_at` object, so its conversion is reused.
        last_time: datetime | None = None
        millis = 0
        rows = []
        for reading in readings:
            taken_at = reading.taken_at
            if taken_at is not last_time:
                millis = (taken_at - EPOCH) // _MS
                last_time = taken_at
            rows.append(
                (
                    ids[reading.probe],
                    millis,
                    codes[reading.status],
                    reading.temperature,
                    reading.humidity,
                    reading.battery,
                    reading.clock_synced,
                )
            )
        with self._file.transaction("write readings to"):
            conn.executemany(_INSERT, rows)
            seq: int = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        return seq

    def _add_probe(self, code: str) -> int:
        conn = self._file.connection
        with self._file.translated("add a probe to"):
            conn.execute("INSERT INTO probes (code) VALUES (?) ON CONFLICT DO NOTHING", (code,))
            probe_id: int = conn.execute(
                "SELECT id FROM probes WHERE code = ?", (code,)
            ).fetchone()[0]
        self._codes[probe_id] = code
        return probe_id

    def prune(self, older_than: datetime, limit: int = 5000) -> int:
        """Delete at most `limit` readings taken before `older_than`, in one short transaction.

        Returns how many were deleted; call again while it returns `limit` (as
        `recorder.run_retention` does, yielding to the event loop between chunks)."""
        conn = self._file.connection
        with self._file.transaction("prune"):
            cursor = conn.execute(
                "DELETE FROM readings WHERE seq IN (SELECT seq FROM readings"
                " WHERE probe_id IN (SELECT id FROM probes) AND taken_at < ? LIMIT ?)",
                (to_millis(older_than), limit),
            )
        return cursor.rowcount

    def correct_times(self, corrections: Sequence[tuple[int, datetime]]) -> int:
        """Move unsynchronised readings (by seq) to their corrected time, in one transaction;
        they are then trusted (`clock_synced`) and marked `time_corrected`. A row already
        corrected is left alone. Returns how many rows changed."""
        with self._file.transaction("correct times in") as conn:
            cursor = conn.executemany(
                "UPDATE readings SET taken_at = ?, clock_synced = 1, time_corrected = 1"
                " WHERE seq = ? AND time_corrected = 0",
                [(to_millis(moment), seq) for seq, moment in corrections],
            )
        return cursor.rowcount

    def set_meta(self, key: str, value: str) -> None:
        """Store a small value under `key` (committed at once)."""
        conn = self._file.connection
        with self._file.translated("write meta to"):
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- reading ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._file.fetch("SELECT value FROM meta WHERE key = ?", (key,))
        return None if not row else str(row[0][0])

    def readings(
        self,
        probe: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[StoredReading]:
        """Readings with `since <= taken_at < until`, oldest first (by taken_at, then seq)."""
        low = -(2**62) if since is None else to_millis(since)
        high = 2**62 if until is None else to_millis(until)
        if probe is None:
            rows = self._file.fetch(_QUERY_ALL, (low, high, limit))
        elif probe in self._ids:
            rows = self._file.fetch(_QUERY_PROBE, (self._ids[probe], low, high, limit))
        else:
            return []
        return [self._stored(row) for row in rows]

    def temperature_buckets(
        self, probe: str, since: datetime, until: datetime, bucket_ms: int
    ) -> list[TemperatureBucket]:
        """Min, max and mean temperature of `probe` per `bucket_ms` from `since` (to `until`),
        aggregated in SQL over the (probe, taken_at) index; buckets without a reading are left
        out."""
        if probe not in self._ids:
            return []
        low = to_millis(since)
        rows = self._file.fetch(
            _QUERY_BUCKETS, (low, bucket_ms, self._ids[probe], low, to_millis(until))
        )
        return [
            TemperatureBucket(from_millis(low + int(bucket) * bucket_ms), lo, hi, mean, count)
            for bucket, lo, hi, mean, count in rows
        ]

    def readings_after(self, seq: int, limit: int = 1000) -> list[StoredReading]:
        """Readings with a seq above `seq`, in seq order."""
        rows = self._file.fetch(_QUERY_AFTER, (seq, limit))
        return [self._stored(row) for row in rows]

    def rows_after(self, seq: int, limit: int = 1000) -> StoredRows:
        """`readings_after` for a forwarder's backlog: the rows as SQLite returned them, made
        into `StoredReading`s only when one is looked at (see `StoredRows`)."""
        rows = self._file.fetch(_QUERY_AFTER, (seq, limit))
        return StoredRows(rows, self._stored, self.code_of)

    def code_of(self, probe_id: int) -> str:
        """The code of the probe with this id."""
        return self._codes[probe_id]

    def unsynced_after(self, seq: int, limit: int = 5000) -> list[tuple[int, datetime]]:
        """(seq, taken_at) of uncorrected readings stamped by an unsynchronised clock with a
        seq above `seq`, in seq order."""
        rows = self._file.fetch(
            "SELECT seq, taken_at FROM readings WHERE seq > ? AND clock_synced = 0"
            " AND time_corrected = 0 ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [(row_seq, from_millis(taken_at)) for row_seq, taken_at in rows]

    def latest_by_probe(self) -> dict[str, StoredReading]:
        """Each probe's most recently taken reading (ties: the highest seq)."""
        stored = [self._stored(row) for row in self._file.fetch(_QUERY_LATEST)]
        return {item.reading.probe: item for item in stored}

    def last_seq(self) -> int:
        """The highest seq ever assigned (0 for a new store), even if that row was pruned."""
        row = self._file.fetch("SELECT seq FROM sqlite_sequence WHERE name = 'readings'")
        return int(row[0][0]) if row else 0

    def count(self) -> int:
        return int(self._file.fetch("SELECT count(*) FROM readings")[0][0])

    # -- maintenance -----------------------------------------------------------------------

    def integrity_check(self) -> str:
        """`PRAGMA integrity_check`: 'ok', or the problems found, one a line. Reads the whole
        file: for maintenance, not for the event loop's hot path."""
        return "\n".join(str(row[0]) for row in self._file.fetch("PRAGMA integrity_check"))

    def checkpoint(self) -> None:
        """Copy the WAL into the database and truncate the WAL file."""
        self._file.fetch("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- helpers ---------------------------------------------------------------------------

    def _stored(self, row: Row) -> StoredReading:
        seq, probe_id, taken_at, temperature, humidity, battery, flags = row
        return StoredReading(
            seq,
            Reading(
                probe=self._codes[probe_id],
                taken_at=from_millis(taken_at),
                status=STATUS_BY_CODE[flags % _SYNCED],
                temperature=_real(temperature),
                humidity=_real(humidity),
                battery=_real(battery),
                clock_synced=bool(flags & _SYNCED),
            ),
            bool(flags & _CORRECTED),
        )


#: A reading as the queries here return it (`StoredRows.raw` keeps them): seq, probe id,
#: taken_at (ms since the epoch), temperature, humidity, battery, and `row_flags` (status,
#: clock_synced, time_corrected). Seven columns, not nine: a backlog batch costs more to turn
#: into Python objects than SQLite takes to read it.
Row = tuple[int, int, int, float | None, float | None, float | None, int]


class StoredRows(Sequence[StoredReading]):
    """Stored readings kept as SQLite's rows: a backlog batch of thousands is encoded for the
    server straight from `raw` (a `StoredReading` costs more to build than its line costs to
    write), while an item looked at by index or iteration is built on demand."""

    __slots__ = ("_make", "code_of", "raw")

    def __init__(
        self,
        raw: list[Row],
        make: Callable[[Row], StoredReading],
        code_of: Callable[[int], str],
    ) -> None:
        self.raw = raw
        self._make = make
        self.code_of = code_of

    def __len__(self) -> int:
        return len(self.raw)

    @overload
    def __getitem__(self, index: int) -> StoredReading: ...
    @overload
    def __getitem__(self, index: slice) -> StoredRows: ...
    def __getitem__(self, index: int | slice) -> StoredReading | StoredRows:
        if isinstance(index, slice):
            return StoredRows(self.raw[index], self._make, self.code_of)
        return self._make(self.raw[index])

    def __iter__(self) -> Iterator[StoredReading]:
        return map(self._make, self.raw)

    def seq(self, index: int) -> int:
        return self.raw[index][0]


def _real(value: float | None) -> float | None:
    # A REAL column can hand back an int for an integral value; normalise to float.
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class LastReading:
    probe: str
    taken_at: datetime
    status: str
    temperature: float | None


def last_of_each_probe(path: Path) -> list[LastReading]:
    """Each probe's newest reading, read-only from the file (no migration, no write)."""
    with read_only(path) as conn:
        rows = conn.execute(
            "SELECT p.code, r.taken_at, r.status, r.temperature FROM probes p"
            " JOIN readings r ON r.seq = (SELECT seq FROM readings WHERE probe_id = p.id"
            " ORDER BY taken_at DESC, seq DESC LIMIT 1) ORDER BY p.code"
        ).fetchall()
    return [
        LastReading(code, from_millis(taken), STATUS_BY_CODE[status].value, temperature)
        for code, taken, status, temperature in rows
    ]
