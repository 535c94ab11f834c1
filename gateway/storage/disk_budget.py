"""Keep the readings store within a size budget, dropping what matters least first.

When the space the store's pages use reaches `max_bytes`, readings are deleted (oldest first in
each step) until it is back under `max_bytes * low_watermark`:

1. readings every forwarder has already delivered (at or below each configured forwarder's
   cursor) that were in range;
2. delivered readings of excursion periods (the central side holds them);
3. readings not yet delivered that were in range, thinned to one per probe per
   `thin_every_s` (the shape of the curve stays, the repeats go);
4. the remaining undelivered in-range readings;
5. last of all, undelivered excursion readings.

An excursion reading is one outside its compartment's range or with a non-ok status (a probe
offline is an event, not a temperature). Every run logs what it dropped (counts and time span
per step; steps 3-5 lose data the county has not seen, logged as errors) and `stats()` shows it
in health. SQLite reuses freed pages, so the file stops growing; it does not shrink without a
VACUUM, which a Pi cannot afford on a large file: the budget counts used pages.

Runs on its own connection to the store's file (WAL allows it); each step deletes `chunk` rows
per transaction with the event loop free in between.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from gateway.core.clock import Clock
from gateway.core.errors import StoreError
from gateway.storage.readings import from_millis
from probes.reading import STATUS_CODES, ProbeStatus

log = logging.getLogger(__name__)

_OK = STATUS_CODES[ProbeStatus.OK]


class DiskBudgetSettings(BaseModel):
    """`[store.disk_budget]` (proposed): the size budget of the readings store."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_bytes: Annotated[int, Field(ge=100_000, description="budget of used database pages")]
    low_watermark: Annotated[float, Field(gt=0.1, lt=1.0)] = 0.9
    check_every_s: Annotated[float, Field(gt=0)] = 300.0
    thin_every_s: Annotated[int, Field(ge=60)] = 900
    chunk: Annotated[int, Field(ge=100, le=100_000)] = 5000


STEPS = (
    "forwarded_in_range",
    "forwarded_excursion",
    "thinned_in_range",
    "unforwarded_in_range",
    "unforwarded_excursion",
)

_IN_RANGE = (
    f"r.status = {_OK} AND (b.lo IS NULL OR r.temperature >= b.lo)"
    " AND (b.hi IS NULL OR r.temperature <= b.hi)"
)
_FROM = "FROM readings r LEFT JOIN temp.budget_ranges b ON b.probe_id = r.probe_id"
_WHERE = {
    "forwarded_in_range": f"r.seq <= :forwarded AND {_IN_RANGE}",
    "forwarded_excursion": f"r.seq <= :forwarded AND NOT ({_IN_RANGE})",
    "thinned_in_range": (
        f"r.seq > :forwarded AND {_IN_RANGE} AND r.seq NOT IN (SELECT min(seq) FROM readings"  # noqa: S608 - constant text
        " GROUP BY probe_id, taken_at / :bucket_ms)"
    ),
    "unforwarded_in_range": f"r.seq > :forwarded AND {_IN_RANGE}",
    "unforwarded_excursion": f"r.seq > :forwarded AND NOT ({_IN_RANGE})",
}


@dataclass(slots=True)
class DiskBudgetStats:
    max_bytes: int
    used_bytes: int = 0
    last_run_at: datetime | None = None
    deleted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STEPS, 0))
    last_report: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "max_bytes": self.max_bytes,
            "used_bytes": self.used_bytes,
            "over_budget": self.used_bytes >= self.max_bytes,
            "last_run_at": None if self.last_run_at is None else self.last_run_at.isoformat(),
            "deleted": dict(self.deleted),
            "last_report": self.last_report,
        }


class DiskBudget:
    """See the module docstring. `ranges`: probe code -> (min_c, max_c) of its compartment;
    `forwarders`: the names of the configured forwarders ("influx", "mqtt")."""

    def __init__(
        self,
        db_path: Path,
        settings: DiskBudgetSettings,
        clock: Clock,
        *,
        ranges: Mapping[str, tuple[float | None, float | None]],
        forwarders: Sequence[str],
    ) -> None:
        self._path = db_path
        self._settings = settings
        self._clock = clock
        self._ranges = dict(ranges)
        self._forwarders = tuple(forwarders)
        self._stats = DiskBudgetStats(settings.max_bytes)
        try:
            self._conn = sqlite3.connect(db_path, isolation_level=None)
            self._conn.execute("PRAGMA busy_timeout=5000")
        except sqlite3.Error as error:
            raise StoreError(f"{db_path}: disk budget cannot open the store: {error}") from error

    def close(self) -> None:
        self._conn.close()

    @property
    def ranges(self) -> Mapping[str, tuple[float | None, float | None]]:
        """Each probe's range, by which its readings are told in range or excursions."""
        return self._ranges

    def place(self, ranges: Mapping[str, tuple[float | None, float | None]]) -> None:
        """Judge each probe's readings by these ranges from the next check on (a reload)."""
        self._ranges = dict(ranges)

    def stats(self) -> DiskBudgetStats:
        return self._stats

    def used_bytes(self) -> int:
        conn = self._conn
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * page_size)

    def forwarded_seq(self) -> int:
        """The lowest cursor among the configured forwarders (0 without any forwarder)."""
        if not self._forwarders:
            return 0
        cursors = []
        for name in self._forwarders:
            row = self._conn.execute(
                "SELECT value FROM meta WHERE key = ?", (f"forward.{name}.cursor",)
            ).fetchone()
            try:
                cursors.append(int(json.loads(row[0])["cursor"]) if row else 0)
            except (ValueError, KeyError, TypeError):
                cursors.append(0)
        return min(cursors)

    def _load_ranges(self) -> None:
        conn = self._conn
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS budget_ranges"
            " (probe_id INTEGER PRIMARY KEY, lo REAL, hi REAL)"
        )
        conn.execute("DELETE FROM temp.budget_ranges")
        ids = dict(conn.execute("SELECT code, id FROM probes").fetchall())
        conn.executemany(
            "INSERT INTO temp.budget_ranges VALUES (?, ?, ?)",
            [(ids[code], lo, hi) for code, (lo, hi) in self._ranges.items() if code in ids],
        )

    async def enforce(self) -> dict[str, int]:
        """One pass: delete until under the low watermark; returns rows deleted per step."""
        settings = self._settings
        deleted = dict.fromkeys(STEPS, 0)
        spans: dict[str, tuple[int, int]] = {}
        used = self.used_bytes()
        self._stats.used_bytes = used
        self._stats.last_run_at = self._clock.now()
        if used < settings.max_bytes:
            return deleted
        target = int(settings.max_bytes * settings.low_watermark)
        self._load_ranges()
        params = {"forwarded": self.forwarded_seq(), "bucket_ms": settings.thin_every_s * 1000}
        for step in STEPS:
            while used > target:
                count, span = self._delete_chunk(step, params)
                if not count:
                    break
                deleted[step] += count
                low, high = spans.get(step, span)
                spans[step] = (min(low, span[0]), max(high, span[1]))
                used = self.used_bytes()
                await asyncio.sleep(0)
        self._stats.used_bytes = used
        for step, count in deleted.items():
            self._stats.deleted[step] += count
        self._report(deleted, spans, used)
        return deleted

    def _delete_chunk(self, step: str, params: dict[str, int]) -> tuple[int, tuple[int, int]]:
        conn = self._conn
        select = (
            f"SELECT r.seq, r.taken_at {_FROM} WHERE {_WHERE[step]}"
            " ORDER BY r.taken_at LIMIT :chunk"
        )
        try:
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute(select, params | {"chunk": self._settings.chunk}).fetchall()
            conn.executemany("DELETE FROM readings WHERE seq = ?", [(seq,) for seq, _ in rows])
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(
                f"{self._path}: disk budget cannot delete readings: {error}; fix: check the "
                "disk and the file's permissions"
            ) from error
        if not rows:
            return 0, (0, 0)
        times = [taken for _, taken in rows]
        return len(rows), (min(times), max(times))

    def _report(
        self, deleted: dict[str, int], spans: dict[str, tuple[int, int]], used: int
    ) -> None:
        parts = []
        for step in STEPS:
            if deleted[step]:
                low, high = spans[step]
                parts.append(
                    f"{deleted[step]} {step.replace('_', ' ')} readings taken "
                    f"{from_millis(low).isoformat()} to {from_millis(high).isoformat()}"
                )
        budget = self._settings.max_bytes
        text = (
            f"store over its budget ({budget} bytes): deleted "
            + ("; ".join(parts) or "nothing deletable")
            + f"; now {used} bytes in use"
        )
        self._stats.last_report = text
        lost = deleted["thinned_in_range"] + deleted["unforwarded_in_range"]
        lost += deleted["unforwarded_excursion"]
        if lost or used > budget:
            log.error("disk budget: %s (%d readings the server never received)", text, lost)
        else:
            log.warning("disk budget: %s", text)

    async def run(self) -> None:
        """Check every `check_every_s` until cancelled; a store error is logged and retried."""
        while True:
            try:
                await self.enforce()
            except StoreError:
                log.exception("disk budget check failed; retrying at the next check")
            except sqlite3.Error:
                log.exception("disk budget cannot read the store; retrying at the next check")
            await self._clock.sleep(self._settings.check_every_s)
