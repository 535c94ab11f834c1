"""The engine shared by every forwarder: two lanes, retries, set-aside, bookkeeping.

A forwarder is a `Sink` (how to deliver one batch to one kind of server) driven by a `Pump`
(what to send next, when to retry, what to remember). The pump runs two tasks:

- ``live``: takes the newest committed readings from the recorder's subscription and sends them
  at once, so after an outage the central side sees the present within one request;
- ``backlog``: sends everything older from the store, oldest first, in `batch_size` batches.

Both acknowledge into the same `AckLedger`, saved to the store after every acknowledged batch
(one small SQLite write per batch). See cursor.py for why this never skips a reading.

Each batch goes out through a `Delivery` (delivery.py): it says whether the lane moves on or
waits, and for how long, after each failure of errors.py (a batch refused as invalid has its
refused points set aside and the lane moves on). All waiting is on the injected clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.core.backoff import Backoff
from gateway.core.cancelling import first_of, raise_if_cancelling
from gateway.core.clock import Clock
from gateway.core.errors import StoreError
from gateway.forward.cursor import INFINITY, BacklogBatch, CursorStore, LaneBook
from gateway.forward.delivery import Delivery, Sink
from gateway.forward.settings import PumpSettings
from gateway.storage.readings import ReadingStore, StoredReading

log = logging.getLogger(__name__)


class CommitFeed(Protocol):
    """Where committed readings are announced as they are committed (the recorder)."""

    def subscribe(
        self, callback: Callable[[Sequence[StoredReading]], None]
    ) -> Callable[[], None]: ...


class TimeHold(Protocol):
    """Says whether a reading stamped by an unsynchronised clock may still be corrected
    (`gateway.readings.clock_sync.ClockSync`)."""

    def holding(self, limit_s: float) -> bool:
        """Whether `holds` may be true for any reading now."""
        ...

    def holds(self, item: StoredReading, limit_s: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class PumpStats:
    """A snapshot for /api/health and /metrics."""

    name: str
    target: str
    state: str
    backlog: int
    oldest_unsent_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    points_sent: int
    batches_sent: int
    points_set_aside: int
    set_aside_recent: tuple[dict[str, object], ...]
    live_pending: int
    dropped_to_backlog: int
    cursor: int
    failures: int


class Pump:
    """Forward the store's readings through `sink` with live-first lanes; see module doc."""

    def __init__(
        self,
        name: str,
        target: str,
        sink: Sink,
        *,
        store: ReadingStore,
        clock: Clock,
        settings: PumpSettings,
        recorder: CommitFeed | None = None,
    ) -> None:
        self.name = name
        self.target = target
        self._sink = sink
        self._store = store
        self._clock = clock
        self._settings = settings
        self._recorder = recorder
        self._cursors = CursorStore(store, name, target)
        self.delivery = Delivery(name, sink, clock, settings, self._cursors)
        self._book: LaneBook | None = None
        self._live_wake = asyncio.Event()
        self._backlog_wake = asyncio.Event()
        self._hold: TimeHold | None = None

    def hold_for_time_correction(self, hold: TimeHold) -> None:
        """Send no reading `hold` says may still get its time corrected: the county gets the
        corrected time, or the reading flagged once `unsynced_hold_s` has passed. Call before
        `run`."""
        self._hold = hold

    def _held(self, item: StoredReading) -> bool:
        hold = self._hold
        return hold is not None and hold.holds(item, self._settings.unsynced_hold_s)

    def _held_check(self) -> Callable[[StoredReading], bool] | None:
        """`_held`, or None while the hold can hold nothing (no reading need be looked at)."""
        hold = self._hold
        if hold is None or not hold.holding(self._settings.unsynced_hold_s):
            return None
        return self._held

    # -- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Forward until cancelled."""
        unsubscribe: Callable[[], None] | None = None
        if self._recorder is not None:
            unsubscribe = self._recorder.subscribe(self._on_commit)
            next_live = self._store.last_seq() + 1
        else:
            next_live = INFINITY
        self._book = LaneBook(self._cursors.load(), self._settings.live_buffer, next_live)
        delivery = self.delivery
        if not delivery.failures:  # a sink's connection loop may have reported one already
            delivery.state = "running"
        log.info(
            "forwarder %s -> %s: starting at cursor %d (%d readings to send)",
            self.name,
            self.target,
            self._book.ledger.cursor,
            self._book.unsent_estimate(self._store.last_seq()),
        )
        try:
            async with asyncio.TaskGroup() as group:
                if unsubscribe is not None:
                    group.create_task(self._live_lane(self._book), name=f"{self.name}-live")
                group.create_task(self._backlog_lane(self._book), name=f"{self.name}-backlog")
        finally:
            if unsubscribe is not None:
                unsubscribe()
            delivery.state = "stopped"

    def _on_commit(self, batch: Sequence[StoredReading]) -> None:
        book = self._book
        if book is None:
            return
        dropped = book.dropped_to_backlog
        book.offer(batch, self._held_check())
        self._live_wake.set()
        if book.dropped_to_backlog != dropped:
            self._backlog_wake.set()

    async def _live_lane(self, book: LaneBook) -> None:
        backoff = self._backoff()
        while True:
            await self._live_wake.wait()
            self._live_wake.clear()
            while book.live_pending:
                batch = book.take_live(self._settings.batch_size)
                delay = await self.delivery.attempt(batch, backoff)
                raise_if_cancelling()
                if delay is None:
                    book.live_acked(batch)
                    self._save(book)
                    continue
                dropped = book.dropped_to_backlog
                book.live_failed(batch)
                if book.dropped_to_backlog != dropped:
                    self._backlog_wake.set()
                await self._pause(delay)

    async def _backlog_lane(self, book: LaneBook) -> None:
        """Oldest first, one request at a time; the batch after the one in flight is planned
        and handed to `sink.prepare` while the request is out, so reading and encoding it
        overlap the server's work on the current one (a drain then runs near the server's own
        speed). A planned batch stays valid until the one before it is acknowledged: the live
        lane only ever takes seqs at or above the floor the plan respected."""
        backoff = self._backoff()
        size = self._settings.batch_size
        ahead: BacklogBatch | None = None
        while True:
            try:
                planned = ahead if book.continues(ahead) else None
                if planned is None:
                    planned = book.plan_backlog(self._store.rows_after, size, self._held_check())
            except StoreError as error:
                self.delivery.report_failure(f"cannot read the backlog from the store: {error}")
                await self._pause(self._settings.retry_max_s)
                continue
            if planned is None:
                await self._idle()
                continue
            ahead = None
            if not planned.rows:
                self._backlog_acked(book, planned)
                continue
            async with asyncio.TaskGroup() as group:
                sending = group.create_task(self.delivery.attempt(planned.rows, backoff))
                looking = group.create_task(self._look_ahead(book, planned))
            raise_if_cancelling()
            delay = sending.result()
            if delay is None:
                self._backlog_acked(book, planned)
                ahead = looking.result()
            else:
                await self._pause(delay)

    async def _look_ahead(self, book: LaneBook, planned: BacklogBatch) -> BacklogBatch | None:
        """Plan the batch after `planned` (in flight) and let the sink prepare it."""
        await asyncio.sleep(0)  # the request goes out first
        try:
            ahead = book.plan_backlog(
                self._store.rows_after,
                self._settings.batch_size,
                self._held_check(),
                after=planned.hi,
            )
        except StoreError:
            return None  # the lane's own plan reports it
        if ahead is not None and ahead.rows:
            self._sink.prepare(ahead.rows)
        return ahead

    def _backlog_acked(self, book: LaneBook, planned: BacklogBatch) -> None:
        book.backlog_acked(planned)
        self._save(book)

    def _save(self, book: LaneBook) -> None:
        try:
            self._cursors.save(book.ledger)
        except StoreError as error:
            # The server has the points; a lost cursor write only means a replay later.
            self.delivery.report_failure(f"cannot save the cursor (a restart will replay): {error}")

    # -- waiting ---------------------------------------------------------------------------

    def _backoff(self) -> Backoff:
        return Backoff(self._settings.retry_initial_s, self._settings.retry_max_s)

    async def _pause(self, seconds: float) -> None:
        """Sleep on the clock, cut short when the sink says it is ready again."""
        await first_of(self._clock.sleep(seconds), self._sink.wait_ready())

    async def _idle(self) -> None:
        self._backlog_wake.clear()
        await first_of(self._clock.sleep(self._settings.idle_poll_s), self._backlog_wake.wait())

    # -- bookkeeping -----------------------------------------------------------------------

    def acknowledged(self, seq: int) -> bool:
        """Whether the server acknowledged reading `seq` (False before `run` starts)."""
        return self._book is not None and self._book.ledger.is_acked(seq)

    def stats(self) -> PumpStats:
        book = self._book
        backlog = 0
        oldest: datetime | None = None
        cursor = 0
        if book is not None:
            cursor = book.ledger.cursor
            try:
                backlog = book.unsent_estimate(self._store.last_seq())
                if backlog:
                    first = self._store.readings_after(book.ledger.skip(cursor), 1)
                    oldest = first[0].reading.taken_at if first else None
            except StoreError as error:
                log.debug("forwarder %s: stats cannot read the store: %s", self.name, error)
        delivery = self.delivery
        return PumpStats(
            name=self.name,
            target=self.target,
            state=delivery.state,
            backlog=backlog,
            oldest_unsent_at=oldest,
            last_success_at=delivery.last_success_at,
            last_error=delivery.last_error,
            last_error_at=delivery.last_error_at,
            points_sent=delivery.points_sent,
            batches_sent=delivery.batches_sent,
            points_set_aside=delivery.aside.points,
            set_aside_recent=tuple(delivery.aside.recent[-3:]),
            live_pending=book.live_pending if book else 0,
            dropped_to_backlog=book.dropped_to_backlog if book else 0,
            cursor=cursor,
            failures=delivery.failures,
        )
