"""JSON views of alarms for the API: each alarm with its timeline and notification attempts.

People appear by id only; names and phones stay in the configuration (DESIGN principle 9).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from alerts.escalation_state import Alarm, TransitionKind, read_tier_detail
from alerts.messages import describe, place_of
from alerts.outbox import EntryState
from gateway.alarms.notices import current_notice
from gateway.settings import Settings
from gateway.storage.alarm_rows import AlarmRow, AttemptRow, OutboxRow, TransitionRow

if TYPE_CHECKING:
    from gateway.alarms.core import AlarmCore

_ALARM = TypeAdapter(Alarm)
UNDELIVERED = (EntryState.FAILED, EntryState.EXPIRED)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def alarms_view(core: AlarmCore, settings: Settings, recent: int) -> dict[str, Any]:
    store = core.store
    state = core.escalation
    open_alarms = sorted(state.alarms.values(), key=lambda a: (not a.active, a.opened_at, a.id))
    closed = store.recent_closed(recent)
    ids = [alarm.id for alarm in open_alarms] + [row.id for row in closed]
    rows = store.alarms_by_id([alarm.id for alarm in open_alarms])
    timeline: dict[str | None, list[TransitionRow]] = defaultdict(list)
    for transition in store.transitions_for(ids):
        timeline[transition.alarm_id].append(transition)
    outbox: dict[str, list[OutboxRow]] = defaultdict(list)
    for item in store.outbox_for(ids):
        outbox[item.entry.alarm_id].append(item)
    attempts: dict[str, list[AttemptRow]] = defaultdict(list)
    for attempt in store.attempts_for(
        [item.entry.id for items in outbox.values() for item in items]
    ):
        attempts[attempt.outbox_id].append(attempt)

    def one(alarm: Alarm, row: AlarmRow | None) -> dict[str, Any]:
        body = _alarm_json(alarm, row, settings)
        body["timeline"] = [_transition_json(t) for t in timeline.get(alarm.id, [])]
        body["notifications"] = [
            _outbox_json(item, attempts.get(item.entry.id, [])) for item in outbox[alarm.id]
        ]
        body["undelivered"] = sum(1 for item in outbox[alarm.id] if item.entry.state in UNDELIVERED)
        return body

    alarms = [one(alarm, rows.get(alarm.id)) for alarm in open_alarms]
    alarms += [one(_ALARM.validate_python(row.data), row) for row in closed]
    return {
        "unit": settings.unit.code,
        "open": len(open_alarms),
        "alarms": alarms,
        "silences": [
            {
                "no": s.no,
                "who": s.who,
                "why": s.why,
                "start": iso(s.start),
                "until": iso(s.until),
                "scope": s.scope,
            }
            for s in state.silences
        ],
        "undelivered": sum(alarm["undelivered"] for alarm in alarms),
    }


def _alarm_json(alarm: Alarm, row: AlarmRow | None, settings: Settings) -> dict[str, Any]:
    place = place_of(settings.unit.name, settings.fridges, alarm.condition.subject)
    notify = current_notice(alarm, alarm.current_at or alarm.opened_at)
    closed_at = None if row is None else row.closed_at
    status = "closed" if closed_at is not None else "active" if alarm.active else "cleared"
    return {
        "no": None if row is None else row.no,
        "id": alarm.id,
        "status": status,
        "kind": str(alarm.condition.kind),
        "subject": alarm.condition.subject,
        "probe": alarm.condition.probe,
        "place": place.words,
        "description": describe(notify, place),
        "since": iso(alarm.since),
        "opened_at": iso(alarm.opened_at),
        "cleared_at": iso(alarm.cleared_at),
        "closed_at": iso(closed_at),
        "closed_by": None if row is None else row.closed_by,
        "disposition": None if row is None else row.disposition,
        "value": alarm.value,
        "current": _measured(alarm.current, alarm.current_at),
        "peak": _measured(alarm.peak, alarm.peak_at),
        "detail": alarm.detail,
        "suppressed_by": alarm.suppressed_by,
        "notified_tiers": {str(tier): iso(at) for tier, at in sorted(alarm.notified.items())},
        "acks": [
            {"person": a.person, "at": iso(a.at), "how": a.how, "on_site_until": iso(a.until)}
            for a in alarm.acks
        ],
    }


def _measured(value: float | None, at: datetime | None) -> dict[str, Any] | None:
    """A temperature with the time it was measured (temperature alarms only)."""
    return None if value is None or at is None else {"celsius": value, "at": iso(at)}


def _transition_json(transition: TransitionRow) -> dict[str, Any]:
    """A step of the timeline; a tier's notice with its tier and the person ids it told."""
    told = None
    if transition.kind == TransitionKind.TIER_NOTIFIED:
        told = read_tier_detail(transition.detail)
    return {
        "at": iso(transition.at),
        "kind": transition.kind,
        "who": transition.who,
        "detail": transition.detail,
        "tier": None if told is None else told[0],
        "told": None if told is None else told[1],
    }


def _outbox_json(item: OutboxRow, attempts: list[AttemptRow]) -> dict[str, Any]:
    entry = item.entry
    return {
        "id": entry.id,
        "person": entry.person,
        "tier": item.tier,
        "channel": str(entry.channel),
        "reason": item.reason,
        "state": str(entry.state),
        "attempts": entry.attempts,
        "created_at": iso(entry.created_at),
        "next_attempt_at": iso(entry.next_attempt_at)
        if entry.state is EntryState.PENDING
        else None,
        "detail": entry.detail,
        "attempt_log": [
            {"at": iso(a.at), "outcome": a.outcome, "detail": a.detail} for a in attempts
        ],
    }
