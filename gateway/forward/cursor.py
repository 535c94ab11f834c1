"""What a forwarder has delivered, kept in the gateway's own database, and the live-first lanes.

`AckLedger` is the persisted truth: a contiguous cursor (every seq up to it was acknowledged by
the server, or is a hole nobody can send any more) plus disjoint acknowledged ranges above it.
The ranges exist because of live first: after an outage the newest readings are sent (and
acknowledged) before the backlog below them, and a crash must not forget either. The ledger only
grows by acknowledgements, so a crash replays at most what was in flight and never skips.

`LaneBook` splits the unacknowledged readings between two lanes without overlap:

- the live lane holds the newest readings handed over by the recorder right after each commit
  (at most `live_capacity`; when it overflows, its oldest readings fall back to the backlog);
- the backlog lane reads the store in seq order from the cursor, below the live lane's `floor`
  (the lowest seq the live lane still holds) and around ranges already acknowledged.

A seq is thus either acknowledged, in the live lane, or at/above the backlog's scan position and
below the floor: every reading is sent by exactly one lane unless a crash or failure replays it.
Everything here is synchronous and pure except `CursorStore`, which reads and writes `meta`.
"""

from __future__ import annotations

import bisect
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from gateway.storage.readings import ReadingStore, StoredReading

log = logging.getLogger(__name__)

INFINITY = 2**62


class AckLedger:
    """Acknowledged seqs: everything up to `cursor`, plus disjoint ranges above it."""

    __slots__ = ("_his", "_los", "cursor")

    def __init__(self, cursor: int = 0, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self.cursor = cursor
        self._los: list[int] = []
        self._his: list[int] = []
        for lo, hi in ranges:
            self.ack(lo, hi)

    @property
    def ranges(self) -> list[tuple[int, int]]:
        return list(zip(self._los, self._his, strict=True))

    def acked_above_cursor(self) -> int:
        """How many seqs the ranges cover."""
        return sum(hi - lo + 1 for lo, hi in zip(self._los, self._his, strict=True))

    def ack(self, lo: int, hi: int) -> None:
        """Record seqs lo..hi (inclusive) as acknowledged; merges touching ranges."""
        if hi < lo:
            return
        lo = max(lo, self.cursor + 1)
        if hi <= self.cursor:
            return
        los, his = self._los, self._his
        # Ranges that overlap or touch [lo, hi] are those from index `start` to `stop - 1`.
        start = bisect.bisect_left(his, lo - 1)
        stop = bisect.bisect_right(los, hi + 1)
        if start < stop:
            lo = min(lo, los[start])
            hi = max(hi, his[stop - 1])
        los[start:stop] = [lo]
        his[start:stop] = [hi]
        if los[0] <= self.cursor + 1:
            self.cursor = max(self.cursor, his[0])
            del los[0], his[0]

    def ack_seqs(self, seqs: Iterable[int]) -> None:
        """Acknowledge exactly these seqs (sorted), as runs of consecutive numbers."""
        run_lo = run_hi = None
        for seq in seqs:
            if run_hi is not None and seq == run_hi + 1:
                run_hi = seq
                continue
            if run_lo is not None and run_hi is not None:
                self.ack(run_lo, run_hi)
            run_lo = run_hi = seq
        if run_lo is not None and run_hi is not None:
            self.ack(run_lo, run_hi)

    def is_acked(self, seq: int) -> bool:
        if seq <= self.cursor:
            return True
        index = bisect.bisect_right(self._los, seq) - 1
        return index >= 0 and self._his[index] >= seq

    def skip(self, pos: int) -> int:
        """The highest p >= max(pos, cursor) such that all seqs up to p are acknowledged."""
        pos = max(pos, self.cursor)
        index = bisect.bisect_right(self._los, pos + 1) - 1
        if index >= 0 and self._his[index] > pos:
            pos = self._his[index]
        return pos

    def next_acked_above(self, pos: int) -> int:
        """The first seq of the first range starting above `pos` (INFINITY if none)."""
        index = bisect.bisect_right(self._los, pos)
        return self._los[index] if index < len(self._los) else INFINITY

    def to_json(self) -> dict[str, object]:
        return {"cursor": self.cursor, "ranges": [[lo, hi] for lo, hi in self.ranges]}

    @classmethod
    def from_json(cls, data: object) -> AckLedger:
        if not isinstance(data, dict):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        ranges = [(int(lo), int(hi)) for lo, hi in data.get("ranges", [])]
        return cls(int(data["cursor"]), ranges)

    def __repr__(self) -> str:
        return f"AckLedger(cursor={self.cursor}, ranges={self.ranges})"


@dataclass(frozen=True, slots=True)
class SetAside:
    """Points the server refused as invalid; kept in the store, no longer retried."""

    at: datetime
    status: int
    message: str
    ranges: list[tuple[int, int]]
    points: int

    def to_json(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "status": self.status,
            "message": self.message,
            "ranges": [[lo, hi] for lo, hi in self.ranges],
            "points": self.points,
        }


@dataclass(slots=True)
class SetAsideLog:
    points: int = 0
    batches: int = 0
    recent: list[dict[str, object]] = field(default_factory=list)


CURSOR_KEY = "forward.{name}.cursor"
SET_ASIDE_KEY = "forward.{name}.set_aside"
_RECENT = 20


class CursorStore:
    """A forwarder's ledger and set-aside log in the store's `meta` table (JSON values).

    The target (server URL and bucket/database/topic prefix) is saved with the cursor: when the
    configuration points the forwarder at another server, the cursor starts again from zero so
    the new server receives all history still on disk (replays are harmless)."""

    def __init__(self, store: ReadingStore, name: str, target: str) -> None:
        self._store = store
        self._name = name
        self._target = target
        self._cursor_key = CURSOR_KEY.format(name=name)
        self._aside_key = SET_ASIDE_KEY.format(name=name)

    def load(self) -> AckLedger:
        raw = self._store.get_meta(self._cursor_key)
        if raw is None:
            return AckLedger()
        try:
            data = json.loads(raw)
            ledger = AckLedger.from_json(data)
        except (ValueError, TypeError, KeyError):
            log.exception(
                "forwarder %s: cursor in meta[%s] is unreadable: starting from seq 0, the "
                "server will receive replays it overwrites",
                self._name,
                self._cursor_key,
            )
            return AckLedger()
        if data.get("target") != self._target:
            log.warning(
                "forwarder %s: target changed from %r to %r: sending all stored history to the "
                "new target",
                self._name,
                data.get("target"),
                self._target,
            )
            return AckLedger()
        return ledger

    def save(self, ledger: AckLedger) -> None:
        data = ledger.to_json() | {"target": self._target}
        self._store.set_meta(self._cursor_key, json.dumps(data, separators=(",", ":")))

    def load_set_aside(self) -> SetAsideLog:
        raw = self._store.get_meta(self._aside_key)
        if raw is None:
            return SetAsideLog()
        try:
            data = json.loads(raw)
            return SetAsideLog(int(data["points"]), int(data["batches"]), list(data["recent"]))
        except (ValueError, TypeError, KeyError):
            log.exception("forwarder %s: set-aside log unreadable, starting a new one", self._name)
            return SetAsideLog()

    def add_set_aside(self, entry: SetAside) -> SetAsideLog:
        aside = self.load_set_aside()
        aside.points += entry.points
        aside.batches += 1
        aside.recent = [*aside.recent, entry.to_json()][-_RECENT:]
        data = {"points": aside.points, "batches": aside.batches, "recent": aside.recent}
        self._store.set_meta(self._aside_key, json.dumps(data, ensure_ascii=False))
        return aside


def runs(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted seqs as (first, last) runs of consecutive numbers."""
    out: list[tuple[int, int]] = []
    for seq in seqs:
        if out and seq == out[-1][1] + 1:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out


@dataclass(frozen=True, slots=True)
class BacklogBatch:
    """Seqs `lo..hi` of the store: `rows` are all the readings that exist among them."""

    lo: int
    hi: int
    rows: Sequence[StoredReading]


Fetch = Callable[[int, int], Sequence[StoredReading]]
Held = Callable[[StoredReading], bool]


def _seq(item: StoredReading) -> int:
    return item.seq


class LaneBook:
    """Which lane owns which unacknowledged seq; see the module docstring."""

    def __init__(self, ledger: AckLedger, live_capacity: int, next_live_seq: int) -> None:
        """`next_live_seq`: the first seq the live lane will receive, i.e. the store's
        `last_seq() + 1` read right after subscribing to the recorder (INFINITY without one)."""
        self.ledger = ledger
        self._capacity = live_capacity
        self._pending: deque[StoredReading] = deque()
        self._inflight: list[StoredReading] = []
        self._next = next_live_seq
        self._pos = ledger.cursor
        self.dropped_to_backlog = 0

    # -- live lane -------------------------------------------------------------------------

    @property
    def floor(self) -> int:
        """The lowest seq the live lane owns; the backlog lane works strictly below it."""
        floor = self._next
        if self._pending:
            floor = min(floor, self._pending[0].seq)
        if self._inflight:
            floor = min(floor, self._inflight[0].seq)
        return floor

    @property
    def live_pending(self) -> int:
        return len(self._pending)

    def offer(self, batch: Sequence[StoredReading], held: Held | None = None) -> None:
        """New committed readings, in seq order (the recorder's subscription). Those `held`
        (waiting for their time to be corrected) are left to the backlog lane."""
        if not batch:
            return
        self._pending.extend(batch if held is None else [item for item in batch if not held(item)])
        self._next = max(self._next, batch[-1].seq + 1)
        self._trim()

    def _trim(self) -> None:
        excess = len(self._pending) + len(self._inflight) - self._capacity
        while excess > 0 and self._pending:
            self._pending.popleft()
            self.dropped_to_backlog += 1
            excess -= 1

    def take_live(self, limit: int) -> list[StoredReading]:
        """The newest `limit` pending readings, now in flight (one live batch at a time)."""
        if self._inflight:
            raise RuntimeError("a live batch is already in flight")
        pending = self._pending
        count = min(limit, len(pending))
        batch = [pending.pop() for _ in range(count)]
        batch.reverse()
        self._inflight = batch
        return batch

    def live_acked(self, batch: Sequence[StoredReading]) -> None:
        self.ledger.ack_seqs(item.seq for item in batch)
        self._inflight = []

    def live_failed(self, batch: Sequence[StoredReading]) -> None:
        """Put an unsent live batch back; it is retried (or falls back to the backlog)."""
        self._inflight = []
        merged = sorted([*self._pending, *batch], key=lambda item: item.seq)
        self._pending = deque(merged)
        self._trim()

    # -- backlog lane ----------------------------------------------------------------------

    def plan_backlog(
        self, fetch: Fetch, limit: int, held: Held | None = None, *, after: int = 0
    ) -> BacklogBatch | None:
        """The next backlog batch, or None when the backlog lane has nothing to do now.

        `fetch(pos, limit)` is `store.rows_after` (or `readings_after`). A batch may have no
        rows (a stretch of deleted seqs): acknowledging it moves the cursor across the hole. A
        batch ends before the first `held` reading: the lane waits there until it is
        released. `after`: plan the batch that follows one still in flight ending there (the
        scan position does not move)."""
        ledger = self.ledger
        pos = ledger.skip(self._pos)
        self._pos = pos
        pos = ledger.skip(max(pos, after))
        bound = min(self.floor, ledger.next_acked_above(pos))
        if pos + 1 >= bound:
            return None
        fetched = fetch(pos, limit)
        rows = fetched
        if fetched and fetched[-1].seq >= bound:
            rows = fetched[: bisect.bisect_left(fetched, bound, key=_seq)]
        if held is not None:
            first_held = next((item.seq for item in rows if held(item)), None)
            if first_held is not None:
                rows = rows[: bisect.bisect_left(rows, first_held, key=_seq)]
                return BacklogBatch(pos + 1, first_held - 1, rows) if pos + 1 < first_held else None
        if len(rows) == limit:
            hi = rows[-1].seq
        elif bound < INFINITY:
            hi = bound - 1
        elif rows:
            hi = rows[-1].seq
        else:
            return None
        return BacklogBatch(pos + 1, hi, rows)

    def continues(self, batch: BacklogBatch | None) -> bool:
        """Whether `batch`, planned ahead, starts right where the backlog lane now stands."""
        return batch is not None and self.ledger.skip(self._pos) == batch.lo - 1

    def backlog_acked(self, batch: BacklogBatch) -> None:
        self.ledger.ack(batch.lo, batch.hi)
        self._pos = max(self._pos, batch.hi)

    def unsent_estimate(self, last_seq: int) -> int:
        """Seqs above the cursor not yet acknowledged (holes counted: an upper bound)."""
        ledger = self.ledger
        return max(0, last_seq - ledger.cursor - ledger.acked_above_cursor())
