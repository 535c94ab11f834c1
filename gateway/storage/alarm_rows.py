"""What the alarm store takes and gives: one step's `Work`, written in one transaction, and
the rows it reads back (outbox, attempts, transitions, alarm summaries, WHO excursions), with
their encoding in the columns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.escalation_state import Transition
from alerts.messages import Message
from alerts.model import ChannelKind
from alerts.outbox import EntryState, OutboxEntry
from gateway.storage.readings import from_millis


@dataclass(frozen=True, slots=True)
class NewOutboxRow:
    """One notification for one person through one channel, before it has an id."""

    alarm_id: str
    person: str
    tier: int
    channel: ChannelKind
    reason: str
    message: Message
    ack_link: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A stored outbox row: the alerts `OutboxEntry` plus what the message and UI need."""

    entry: OutboxEntry
    tier: int
    reason: str
    message: Message
    ack_link: str


@dataclass(frozen=True, slots=True)
class AttemptRow:
    outbox_id: str
    at: datetime
    outcome: str
    detail: str


@dataclass(frozen=True, slots=True)
class TransitionRow:
    seq: int
    alarm_id: str | None
    at: datetime
    kind: str
    who: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class AlarmRow:
    """An alarm's summary as last persisted; `data` is the alerts `Alarm` in JSON form."""

    no: int
    id: str
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    disposition: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WhoEvent:
    """A WHO PQS excursion raised or cleared (recorded for the report, never paged)."""

    kind: str
    compartment: str
    probe: str | None
    since: datetime
    at: datetime
    value: float | None
    cleared: bool


@dataclass(frozen=True, slots=True)
class WhoRow:
    kind: str
    compartment: str
    probe: str | None
    since: datetime
    raised_at: datetime
    value: float | None
    cleared_at: datetime | None


@dataclass(slots=True)
class Work:
    """Everything one step changes; `AlarmStore.commit` writes it in one transaction."""

    escalation: dict[str, Any] | None = None
    rule_states: dict[str, dict[str, Any]] = field(default_factory=dict)
    evaluated_seq: int | None = None
    transitions: list[Transition] = field(default_factory=list)
    outbox: list[NewOutboxRow] = field(default_factory=list)
    alarms: dict[str, tuple[str, str, str | None, datetime, dict[str, Any]]] = field(
        default_factory=dict
    )
    """alarm id -> (kind, subject, probe, opened_at, Alarm JSON)"""
    closes: list[tuple[str, datetime, str | None, str]] = field(default_factory=list)
    """(alarm id, closed at, by whom, disposition)"""
    cancel_pending: list[tuple[str, str]] = field(default_factory=list)
    """(alarm id, reason): pending outbox rows of a closed alarm are not sent any more"""
    who: list[WhoEvent] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (
            self.escalation is not None
            or self.rule_states
            or self.evaluated_seq is not None
            or self.transitions
            or self.outbox
            or self.alarms
            or self.closes
            or self.cancel_pending
            or self.who
            or self.meta
        )


def message_json(message: Message) -> str:
    return json.dumps(
        {
            "text": message.text,
            "markdown": message.markdown,
            "speech": message.speech,
            "parts": message.parts,
        },
        ensure_ascii=False,
    )


def _message(text: str) -> Message:
    data = json.loads(text)
    return Message(data["text"], data["markdown"], data["speech"], dict(data["parts"]))


def outbox_row(row: tuple[Any, ...]) -> OutboxRow:
    (
        row_id,
        alarm_id,
        person,
        tier,
        channel,
        reason,
        message,
        ack_link,
        created,
        next_at,
        attempts,
        state,
        detail,
    ) = row
    entry = OutboxEntry(
        id=str(row_id),
        alarm_id=alarm_id,
        person=person,
        channel=ChannelKind(channel),
        created_at=from_millis(created),
        next_attempt_at=from_millis(next_at),
        attempts=attempts,
        state=EntryState(state),
        detail=detail,
    )
    return OutboxRow(entry, tier, reason, _message(message), ack_link)


def alarm_row(row: tuple[Any, ...]) -> AlarmRow:
    no, alarm_id, opened, closed, by, disposition, data = row
    return AlarmRow(
        no,
        alarm_id,
        from_millis(opened),
        None if closed is None else from_millis(closed),
        by,
        disposition,
        dict(json.loads(data)),
    )
