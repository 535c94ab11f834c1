"""Delivers due outbox rows through the channels and persists every outcome.

The outbox in SQLite is the queue: rows are created by the engine in the same transaction as
the escalation step that decided them, and this loop takes the due ones, oldest first. Each
channel is served by its own task in a round, so a slow or dead WeChat API never delays the
console or SMS. Every attempt is written (attempts table) with the row's new state
(`alerts.outbox.record_attempt`: delivered, retry with backoff, failed), so a crash between a
send and its record re-sends at most that one message (at-least-once).

Channel down: when a channel answers "retry later" (network down, 5xx, rate limit), the channel
itself backs off (15 s doubling to 10 min with jitter, as `alerts.outbox` does for a row): its
other due rows, and rows created meanwhile, are deferred to the channel's next probe without
counting an attempt. So a channel that is down for hours costs one probe per backoff period,
not one request per queued message (nor a fresh 15 s backoff for each new reminder), and when
it comes back everything waiting goes out in that round. Before each round `supersede` keeps
only the newest pending message per alarm, person and channel, and `expire` gives up on rows
older than `give_up_after_s`; both states stay in the store and are counted in `health()`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from alerts.channels.base import Channel, Notification, Outcome, failed
from alerts.model import ChannelKind
from alerts.outbox import EntryState, OutboxEntry, expire, record_attempt, supersede
from alerts.settings import AlertSettings
from gateway.core.cancelling import first_of
from gateway.core.clock import Clock
from gateway.core.errors import StoreError
from gateway.storage.alarm_rows import OutboxRow
from gateway.storage.alarms import AlarmStore

log = logging.getLogger(__name__)

MAX_WAIT_S = 60.0
"""Re-check at least this often, so a wall-clock step never strands a due row."""
ROUND_SIZE = 2000
ERROR_PAUSE_S = 5.0


class Dispatcher:
    """Sends due outbox rows; `wake()` after new rows were committed."""

    def __init__(
        self,
        store: AlarmStore,
        channels: Mapping[ChannelKind, Channel],
        alerts: AlertSettings,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._channels = channels
        self._alerts = alerts
        self._clock = clock
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._fresh = True
        self._blocked: dict[ChannelKind, datetime] = {}
        self._streak: dict[ChannelKind, int] = {}
        self.rounds = 0
        self.last_error: str | None = None

    def wake(self) -> None:
        self._fresh = True
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.dispatch_due()
            except StoreError as error:
                # The disk is the problem, not a message: say so once and try again later.
                if self.last_error is None:
                    log.error("alarm outbox: %s", error)  # noqa: TRY400 - the message says it all
                self.last_error = str(error)
                await self._clock.sleep(ERROR_PAUSE_S)
                continue
            await self._wait()

    async def dispatch_due(self) -> int:
        """One round: tidy the pending rows, send what is due. Returns how many were sent."""
        now = self._clock.now()
        if self._fresh:
            self._fresh = False
            self._tidy(now)
        due = self._store.due(now, ROUND_SIZE)
        by_channel: dict[ChannelKind, list[OutboxRow]] = defaultdict(list)
        for row in due:
            by_channel[row.entry.channel].append(row)
        if not by_channel:
            return 0
        self.rounds += 1
        async with asyncio.TaskGroup() as group:
            for kind, rows in by_channel.items():
                blocked = self._blocked.get(kind)
                if blocked is not None and now < blocked:
                    self._defer(rows, blocked, f"channel {kind} is failing, next try then")
                    continue
                group.create_task(self._serve(kind, rows), name=f"alarms:send:{kind}")
        self.last_error = None
        return len(due)

    def _tidy(self, now: datetime) -> None:
        pending = [row.entry for row in self._store.pending()]
        superseded = supersede(pending)
        gone = {entry.id for entry in superseded}
        expired = [
            entry
            for entry in (expire(e, now, self._alerts.outbox) for e in pending if e.id not in gone)
            if entry.state is EntryState.EXPIRED
        ]
        for entry in expired:
            log.error(
                "alarm notification %s to %s via %s expired: %s",
                entry.id,
                entry.person,
                entry.channel,
                entry.detail,
            )
        if superseded or expired:
            self._store.update_entries([*superseded, *expired])

    async def _serve(self, kind: ChannelKind, rows: Sequence[OutboxRow]) -> None:
        channel = self._channels.get(kind)
        for index, row in enumerate(rows):
            entry = row.entry
            if channel is None:
                result = failed(f"channel {kind} is not configured any more: check [alerts]")
            else:
                result = await channel.send(self._notification(row))
            now = self._clock.now()
            updated = record_attempt(entry, result, now, self._alerts.outbox, self._rng)
            self._store.record_attempt(updated, result, now)
            self._log(updated, result.outcome)
            if result.outcome is Outcome.RETRY_LATER:
                until = (
                    # A rate limit ("wait N s") is not an outage: the others wait N s only.
                    now + timedelta(seconds=result.retry_after)
                    if result.retry_after is not None
                    else self._back_off(kind, now, updated.next_attempt_at)
                )
                self._blocked[kind] = until
                self._defer(rows[index + 1 :], until, result.detail)
                return
            if result.outcome is Outcome.DELIVERED:
                self._streak.pop(kind, None)
                self._blocked.pop(kind, None)

    def _back_off(self, kind: ChannelKind, now: datetime, row_next: datetime) -> datetime:
        """The channel's own next probe: its failure streak's backoff, or the row's if later."""
        policy = self._alerts.outbox
        streak = self._streak.get(kind, 0) + 1
        self._streak[kind] = streak
        delay = min(policy.first_retry_s * 2 ** (streak - 1), policy.max_retry_s)
        delay *= 1 + self._rng.uniform(-policy.jitter, policy.jitter)
        until = max(row_next, now + timedelta(seconds=delay))
        self._blocked[kind] = until
        return until

    def _defer(self, rows: Sequence[OutboxRow], until: datetime, why: str) -> None:
        later: list[OutboxEntry] = [
            replace(row.entry, next_attempt_at=until, detail=f"waiting for the channel: {why}")
            for row in rows
        ]
        if later:
            self._store.update_entries(later)

    def _notification(self, row: OutboxRow) -> Notification:
        person = self._alerts.person(row.entry.person)
        return Notification(row.entry.id, person, row.message, row.ack_link)

    @staticmethod
    def _log(entry: OutboxEntry, outcome: Outcome) -> None:
        if outcome is Outcome.DELIVERED:
            log.info("alarm notification %s delivered via %s", entry.id, entry.channel)
        elif entry.state is EntryState.FAILED:
            log.error(
                "alarm notification %s to %s via %s failed for good: %s",
                entry.id,
                entry.person,
                entry.channel,
                entry.detail,
            )
        elif entry.state is EntryState.EXPIRED:
            log.error("alarm notification %s expired: %s", entry.id, entry.detail)
        else:
            log.warning(
                "alarm notification %s via %s not delivered (attempt %d), retrying at %s: %s",
                entry.id,
                entry.channel,
                entry.attempts,
                entry.next_attempt_at.isoformat(),
                entry.detail,
            )

    async def _wait(self) -> None:
        if self._wake.is_set():
            self._wake.clear()
            return
        next_at = self._store.next_attempt_at()
        wait_s = MAX_WAIT_S
        if next_at is not None:
            wait_s = min(max((next_at - self._clock.now()).total_seconds(), 0.0), MAX_WAIT_S)
        await first_of(self._clock.sleep(wait_s), self._wake.wait())
        self._wake.clear()
