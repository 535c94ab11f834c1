"""When to try an undelivered notification again, and when to give up. Pure.

Each (notification, channel) pair is one entry. A failed attempt waits 15 s, then doubles up
to 10 min, with ±20 % jitter so that a county's gateways do not all retry the same second
when the network returns, and never less than the API's own `retry_after`. An entry older than
`give_up_after_s` (12 h) is marked expired; a permanent failure is marked failed at once. Both
stay in the store for the UI: "what could not be delivered is visible".

While the network is down, reminders pile up behind the first message. `supersede` keeps only
the newest pending entry per alarm, person and channel, so the person gets one current
message when the link returns instead of a burst of stale ones.

This policy is per entry: a new reminder starts its own 15 s backoff. Holding a whole channel
back while it is down (one probe per period rather than one request per queued message) is
the dispatcher's job (gateway/alarms/dispatcher.py).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from alerts.channels.base import DeliveryResult, Outcome
from alerts.model import ChannelKind
from alerts.settings import OutboxSettings


class EntryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: str
    alarm_id: str
    person: str
    channel: ChannelKind
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    state: EntryState = EntryState.PENDING
    detail: str = ""


def is_due(entry: OutboxEntry, now: datetime) -> bool:
    return entry.state is EntryState.PENDING and entry.next_attempt_at <= now


def record_attempt(
    entry: OutboxEntry,
    result: DeliveryResult,
    now: datetime,
    policy: OutboxSettings,
    rng: random.Random,
) -> OutboxEntry:
    """The entry after one delivery attempt with this result."""
    attempts = entry.attempts + 1
    if result.outcome is Outcome.DELIVERED:
        return replace(entry, attempts=attempts, state=EntryState.DELIVERED, detail=result.detail)
    if result.outcome is Outcome.FAILED_PERMANENTLY:
        return replace(entry, attempts=attempts, state=EntryState.FAILED, detail=result.detail)
    backoff = min(policy.first_retry_s * 2 ** (attempts - 1), policy.max_retry_s)
    backoff *= 1 + rng.uniform(-policy.jitter, policy.jitter)
    delay = max(backoff, result.retry_after or 0.0)
    retried = replace(
        entry,
        attempts=attempts,
        next_attempt_at=now + timedelta(seconds=delay),
        detail=result.detail,
    )
    return expire(retried, now, policy)


def expire(entry: OutboxEntry, now: datetime, policy: OutboxSettings) -> OutboxEntry:
    """Give up on a pending entry older than `give_up_after_s` (e.g. a channel down for hours)."""
    too_old = (now - entry.created_at).total_seconds() >= policy.give_up_after_s
    if entry.state is EntryState.PENDING and too_old:
        reason = f"gave up after {entry.attempts} attempt(s); last: {entry.detail or 'none'}"
        return replace(entry, state=EntryState.EXPIRED, detail=reason)
    return entry


def supersede(entries: Iterable[OutboxEntry]) -> list[OutboxEntry]:
    """Mark pending entries superseded when a newer one goes to the same person, channel and
    alarm; returns only the entries that changed."""
    newest: dict[tuple[str, str, ChannelKind], OutboxEntry] = {}
    pending = [e for e in entries if e.state is EntryState.PENDING]
    for entry in pending:
        key = (entry.alarm_id, entry.person, entry.channel)
        if key not in newest or entry.created_at > newest[key].created_at:
            newest[key] = entry
    return [
        replace(e, state=EntryState.SUPERSEDED, detail=f"superseded by {newest[k].id}")
        for e in pending
        if newest[k := (e.alarm_id, e.person, e.channel)] is not e
    ]
