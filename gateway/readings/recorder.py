"""The async writer between the drivers and the store.

Drivers hand readings to `Recorder.put` (or `submit` from synchronous callbacks); `run()`, a
named task in the supervisor's TaskGroup, commits them in batches every `flush_interval_s`, or as
soon as `max_batch` are waiting. Only after a commit does anything else learn of a reading
(subscribers, `latest`): DESIGN principle 1.

Queue-full policy (the queue holds `queue_size` readings, i.e. minutes of a whole clinic's
probes, so it fills only when the store cannot write): nothing is ever dropped here.
- `await put(reading)` waits for space: the driver slows down (its next poll comes later) and
  keeps its reading; the wait is counted in `stats().waited`.
- `submit(reading)` cannot wait: it returns False and the caller still owns the reading (retry
  with `put`); counted in `stats().rejected` and logged once per episode.
Both wake the writer at once. A batch the store fails to write (disk full, I/O error) is kept and
retried first at the next flush, before more is taken from the queue, so memory stays bounded
and back-pressure reaches the drivers. A batch rejected by the store's rules is written one
reading at a time and only the offending readings are left out, each logged with its values.
On cancellation (SIGTERM), `run` commits everything still queued before it re-raises.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from gateway.core.cancelling import first_of
from gateway.core.clock import Clock
from gateway.core.errors import StoreError
from gateway.settings import StoreSettings
from gateway.storage.readings import InvalidReadingError, ReadingStore, StoredReading
from probes.reading import Reading

log = logging.getLogger(__name__)

Subscriber = Callable[[Sequence[StoredReading]], None]


@dataclass(frozen=True, slots=True)
class RecorderStats:
    """A snapshot for the health endpoint."""

    written: int
    batches: int
    last_commit_at: datetime | None
    last_commit_s: float | None
    queue_depth: int
    max_queue_depth: int
    rejected: int
    waited: int
    invalid: int
    write_errors: int
    pending: int
    last_error: str | None


class Recorder:
    """Batches readings into the store; see the module docstring for the queue-full policy."""

    def __init__(self, store: ReadingStore, clock: Clock, settings: StoreSettings) -> None:
        self._store = store
        self._clock = clock
        self._interval = settings.flush_interval_s
        self._max_batch = settings.max_batch
        self._queue: asyncio.Queue[Reading] = asyncio.Queue(settings.queue_size)
        self._wake = asyncio.Event()
        self._arrived = asyncio.Event()
        self._pending: list[Reading] = []
        # Seeded from the store so the health view shows each probe's last reading at once
        # after a restart (one indexed lookup per probe).
        self._latest = {code: item.reading for code, item in store.latest_by_probe().items()}
        self._subscribers: list[Subscriber] = []
        self._written = 0
        self._batches = 0
        self._last_commit_at: datetime | None = None
        self._last_commit_s: float | None = None
        self._max_depth = 0
        self._rejected = 0
        self._waited = 0
        self._invalid = 0
        self._write_errors = 0
        self._last_error: str | None = None

    # -- the drivers' side -----------------------------------------------------------------

    def submit(self, reading: Reading) -> bool:
        """Queue a reading without waiting. False means the queue is full and the reading was
        NOT taken: the caller keeps it and retries with `await put(reading)`."""
        queue = self._queue
        try:
            queue.put_nowait(reading)
        except asyncio.QueueFull:
            if not self._rejected:
                log.warning("reading queue full (%d): submit refused, use put", queue.maxsize)
            self._rejected += 1
            self._wake.set()
            return False
        self._arrived.set()
        if queue.qsize() >= self._max_batch:
            self._wake.set()
        return True

    async def put(self, reading: Reading) -> None:
        """Queue a reading, waiting for space when the queue is full (back-pressure)."""
        queue = self._queue
        try:
            queue.put_nowait(reading)
        except asyncio.QueueFull:
            self._waited += 1
            self._wake.set()
            await queue.put(reading)
        self._arrived.set()
        if queue.qsize() >= self._max_batch:
            self._wake.set()

    # -- the readers' side -----------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback` with each committed batch (in seq order); returns an unsubscribe.

        Callbacks run on the event loop right after the commit and must be quick (hand the
        batch to your own queue or task); an exception is logged and does not stop recording."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    @property
    def latest(self) -> Mapping[str, Reading]:
        """The last committed reading of each probe (read-only view)."""
        return MappingProxyType(self._latest)

    def stats(self) -> RecorderStats:
        return RecorderStats(
            written=self._written,
            batches=self._batches,
            last_commit_at=self._last_commit_at,
            last_commit_s=self._last_commit_s,
            queue_depth=self._queue.qsize(),
            max_queue_depth=self._max_depth,
            rejected=self._rejected,
            waited=self._waited,
            invalid=self._invalid,
            write_errors=self._write_errors,
            pending=len(self._pending),
            last_error=self._last_error,
        )

    # -- the writer ------------------------------------------------------------------------

    async def run(self) -> None:
        """Commit queued readings until cancelled; on cancellation commit the rest, re-raise."""
        try:
            while True:
                await self._wait()
                await self._flush()
        except asyncio.CancelledError:
            self._flush_at_exit()
            raise

    async def _wait(self) -> None:
        """With nothing to commit, wait for the next reading (an idle gateway does not wake
        every flush interval); then sleep one flush interval (on the injected clock) or until
        woken by a full batch."""
        if self._queue.empty() and not self._pending:
            self._arrived.clear()
            await self._arrived.wait()
        if not self._wake.is_set():
            await first_of(self._clock.sleep(self._interval), self._wake.wait())
        self._wake.clear()

    async def _flush(self) -> None:
        """Commit everything waiting, `max_batch` at a time, yielding between batches."""
        while True:
            if not self._commit_next():
                return
            await asyncio.sleep(0)

    def _flush_at_exit(self) -> None:
        while self._commit_next():
            pass
        if self._pending or not self._queue.empty():
            lost = len(self._pending) + self._queue.qsize()
            log.error("%d readings could not be committed before exit: %s", lost, self._last_error)

    def _commit_next(self) -> bool:
        """Commit one batch; True when a full batch went through and more may be waiting."""
        batch = self._take()
        if not batch:
            return False
        started = time.perf_counter()
        try:
            last_seq = self._store.write_batch(batch)
        except InvalidReadingError:
            self._commit_singly(batch)
        except StoreError as error:
            self._failed(batch, error)
            return False
        else:
            self._committed(batch, last_seq, started)
        return len(batch) == self._max_batch and not self._pending

    def _take(self) -> list[Reading]:
        """The batch that failed last time, topped up from the queue to `max_batch`."""
        batch, self._pending = self._pending, []
        queue = self._queue
        depth = queue.qsize()
        self._max_depth = max(self._max_depth, depth)
        get = queue.get_nowait
        batch.extend([get() for _ in range(min(depth, self._max_batch - len(batch)))])
        return batch

    def _commit_singly(self, batch: list[Reading]) -> None:
        for index, reading in enumerate(batch):
            started = time.perf_counter()
            try:
                last_seq = self._store.write_batch((reading,))
            except InvalidReadingError as error:
                self._refused(reading, error)
                continue
            except StoreError as error:
                self._failed(batch[index:], error)
                return
            self._committed([reading], last_seq, started)

    def _refused(self, reading: Reading, error: InvalidReadingError) -> None:
        self._invalid += 1
        log.error("reading not stored, it breaks the store's rules: %r (%s)", reading, error)

    def _failed(self, batch: list[Reading], error: StoreError) -> None:
        if self._last_error is not None:
            log.debug("store still failing: %s", error)
        else:
            log.error(
                "cannot commit %d readings, retrying at the next flush: %s", len(batch), error
            )
        self._pending = batch
        self._write_errors += 1
        self._last_error = str(error)

    def _committed(self, batch: list[Reading], last_seq: int, started: float) -> None:
        if self._last_error is not None:
            log.warning("store writable again after %d failed attempts", self._write_errors)
            self._last_error = None
        self._written += len(batch)
        self._batches += 1
        self._last_commit_s = time.perf_counter() - started
        self._last_commit_at = self._clock.now()
        latest = self._latest
        for reading in batch:
            latest[reading.probe] = reading
        if self._subscribers:
            first = last_seq - len(batch) + 1
            stored = [StoredReading(first + i, reading) for i, reading in enumerate(batch)]
            for callback in tuple(self._subscribers):
                try:
                    callback(stored)
                except Exception:
                    log.exception("subscriber %r failed on a committed batch", callback)


async def run_retention(
    store: ReadingStore,
    clock: Clock,
    retention_days: int,
    *,
    every_s: float = 3600.0,
    chunk: int = 5000,
) -> None:
    """Delete readings older than `retention_days`, every `every_s`, `chunk` rows per
    transaction with the event loop free between chunks.

    The cutoff counts from the newest stored reading when that is earlier than the clock's now,
    so a wall clock that jumps years ahead (bad NTP answer) does not wipe the history."""
    keep = timedelta(days=retention_days)
    while True:
        try:
            newest = [item.reading.taken_at for item in store.latest_by_probe().values()]
            cutoff = min(clock.now(), max(newest, default=clock.now())) - keep
            deleted = chunk
            total = 0
            while deleted == chunk:
                deleted = store.prune(cutoff, chunk)
                total += deleted
                await asyncio.sleep(0)
        except StoreError:
            log.exception("retention failed, retrying in %.0f s", every_s)
        else:
            if total:
                log.info("retention: deleted %d readings taken before %s", total, cutoff)
        await clock.sleep(every_s)
