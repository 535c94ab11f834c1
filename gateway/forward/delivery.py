"""One batch to one server, and the forwarder's record of how delivering goes.

`Delivery.attempt` sends a batch through the sink and says what the lane does next: nothing
(sent, or its refused points set aside) or wait so many seconds. A retryable failure waits for
the server's Retry-After (capped) or the lane's capped jittered backoff; an auth failure or a
missing database waits `auth_retry_s`; a batch refused as invalid is split in halves and
retried until the refused points are isolated, then those are set aside (recorded in meta with
the server's message, counted in health). The record (state, failures, last success and error,
counts) is what /api/health and /metrics show of the forwarder.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from gateway.core.backoff import Backoff
from gateway.core.clock import Clock
from gateway.core.errors import StoreError
from gateway.forward.cursor import CursorStore, SetAside, SetAsideLog, runs
from gateway.forward.errors import AuthError, MissingDatabaseError, RejectedError, RetryableError
from gateway.forward.settings import PumpSettings
from gateway.storage.readings import StoredReading

log = logging.getLogger(__name__)

#: A refused batch is bisected to isolate the refused points; beyond this many requests for
#: one batch (a systematic refusal, e.g. a field type conflict on every point) the remaining
#: refused pieces are set aside whole.
ISOLATION_REQUESTS = 64


class Sink(Protocol):
    """Delivers one batch to one server; raises the errors of errors.py, nothing else."""

    async def send(self, batch: Sequence[StoredReading]) -> None: ...

    def prepare(self, batch: Sequence[StoredReading]) -> None:
        """`batch` is likely the next `send`: a sink may begin encoding it now, while the
        current request is in flight (the backlog lane's pipeline); may do nothing."""
        ...

    async def wait_ready(self) -> None:
        """Return when a retry is worth making before its backoff ends (e.g. the MQTT client
        reconnected); an HTTP sink never returns."""
        ...


class Delivery:
    """Delivers batches through `sink` for forwarder `name` and keeps its record."""

    def __init__(
        self, name: str, sink: Sink, clock: Clock, settings: PumpSettings, cursors: CursorStore
    ) -> None:
        self.name = name
        self._sink = sink
        self._clock = clock
        self._settings = settings
        self._cursors = cursors
        self.aside: SetAsideLog = cursors.load_set_aside()
        self.state = "starting"
        self.failures = 0
        self.points_sent = 0
        self.batches_sent = 0
        self.last_success_at: datetime | None = None
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None

    async def attempt(self, batch: Sequence[StoredReading], backoff: Backoff) -> float | None:
        """Send a batch: None when done (sent or set aside), else the seconds to wait."""
        try:
            await self._deliver(batch, [0])
        except (AuthError, MissingDatabaseError) as error:
            self.report_failure(str(error), state=error.state)
            return self._settings.auth_retry_s
        except RetryableError as error:
            self.report_failure(str(error), state="retrying")
            if error.retry_after is not None:
                return min(max(error.retry_after, 0.0), self._settings.retry_after_max_s)
            return backoff.next_delay()
        backoff.reset()
        self._succeeded(len(batch))
        return None

    def report_failure(self, message: str, state: str = "retrying") -> None:
        """Record a failure for health and logs (also used by a sink's connection loop)."""
        if self.failures == 0 or message != self.last_error:
            log.error("forwarder %s: %s", self.name, message)
        else:
            log.debug("forwarder %s still failing: %s", self.name, message)
        self.failures += 1
        self.last_error = message
        self.last_error_at = self._clock.now()
        self.state = state

    async def _deliver(self, batch: Sequence[StoredReading], requests: list[int]) -> None:
        """Send, isolating refused points by bisection; `requests` counts attempts."""
        requests[0] += 1
        try:
            await self._sink.send(batch)
        except RejectedError as error:
            if len(batch) == 1 or requests[0] >= ISOLATION_REQUESTS:
                self._set_aside(batch, error)
                return
            middle = len(batch) // 2
            await self._deliver(batch[:middle], requests)
            await self._deliver(batch[middle:], requests)

    def _set_aside(self, batch: Sequence[StoredReading], error: RejectedError) -> None:
        entry = SetAside(
            self._clock.now(),
            error.status,
            str(error)[:500],
            runs(item.seq for item in batch),
            len(batch),
        )
        log.error(
            "forwarder %s: server refused %d reading(s) (seqs %s) as invalid; set aside, kept "
            "in the store: %s",
            self.name,
            len(batch),
            entry.ranges[:5],
            entry.message,
        )
        try:
            self.aside = self._cursors.add_set_aside(entry)
        except StoreError:
            log.exception("forwarder %s: cannot record the set-aside batch", self.name)
            self.aside.points += entry.points
            self.aside.batches += 1

    def _succeeded(self, points: int) -> None:
        if self.failures:
            log.warning(
                "forwarder %s: delivering again after %d failed attempts", self.name, self.failures
            )
        self.failures = 0
        self.points_sent += points
        self.batches_sent += 1
        self.last_success_at = self._clock.now()
        self.state = "running"
