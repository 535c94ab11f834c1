"""A lane of events to one county server: read after a persisted cursor, deliver, advance.

Alarm transitions (`alarm_events`) and recorded excursions (`exposure_events`) travel alike:
the source reads the rows after a cursor it keeps beside them, the lane hands the events they
make to a deliverer, and saves the cursor only once the server acknowledged. Rows that make no
event still move the cursor. A crash between delivery and the cursor's save rewrites the same
points (same series, same timestamp), which the server overwrites; nothing else is sent twice.
A source that cannot be read, like a server that refuses, is retried after a backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from gateway.core.backoff import Backoff
from gateway.core.clock import Clock
from gateway.core.errors import StoreError
from gateway.forward.errors import ForwardError, RetryableError

log = logging.getLogger(__name__)

E = TypeVar("E")
E_co = TypeVar("E_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Page(Generic[E_co]):
    """The events of the rows read after a cursor; `last` is the sequence number of the last
    row read (None: nothing follows the cursor), `rows` how many rows were read."""

    events: Sequence[E_co]
    last: int | None
    rows: int


class EventSource(Protocol[E_co]):
    """Rows in order of a sequence number that only grows, and where lanes keep cursors.

    Each method raises `StoreError` when its file cannot be read or written."""

    def after(self, cursor: int, limit: int) -> Page[E_co]: ...

    def read_cursor(self, key: str) -> int: ...

    def save_cursor(self, key: str, seq: int) -> None: ...


class EventLane(Generic[E]):
    """Sends a source's events after its persisted cursor until cancelled (module docstring).

    `kind` names the events in the cursor's key (`forward.<kind>.<name>.cursor`) and in logs."""

    def __init__(
        self,
        name: str,
        kind: str,
        source: EventSource[E],
        deliver: Callable[[Sequence[E]], Awaitable[None]],
        clock: Clock,
        *,
        batch: int = 500,
        idle_s: float = 2.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self._source = source
        self._deliver = deliver
        self._clock = clock
        self._batch = batch
        self._idle_s = idle_s
        self._backoff = backoff or Backoff(1.0, 300.0)
        self._key = f"forward.{kind}.{name}.cursor"
        self._what = f"{kind.replace('_', ' ')} to {name}"
        self.sent = 0
        self.last_error: str | None = None

    @property
    def cursor(self) -> int:
        return self._source.read_cursor(self._key)

    async def run(self) -> None:
        while True:
            delay = await self.step()
            await self._clock.sleep(delay)

    async def step(self) -> float:
        """Send one batch if there is one; the seconds to wait before the next step."""
        try:
            page = self._source.after(self.cursor, self._batch)
        except StoreError as error:
            return self._failed(error, None)
        if page.last is None:
            return self._idle_s
        try:
            if page.events:
                await self._deliver(page.events)
        except ForwardError as error:
            retry_after = error.retry_after if isinstance(error, RetryableError) else None
            return self._failed(error, retry_after)
        try:
            self._source.save_cursor(self._key, page.last)
        except StoreError as error:
            log.warning("%s: cursor not saved (%s); they will be resent", self._what, error)
        if self.last_error is not None:
            log.info("%s flow again", self._what)
        self.last_error = None
        self._backoff.reset()
        self.sent += len(page.events)
        return 0.0 if page.rows >= self._batch else self._idle_s

    def _failed(self, error: Exception, retry_after: float | None) -> float:
        if self.last_error is None:
            log.warning("%s: %s; kept for a later attempt", self._what, error)
        self.last_error = str(error)
        return max(retry_after or 0.0, self._backoff.next_delay())
