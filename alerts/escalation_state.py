"""The escalation's plain data: the per-unit state, the events it takes and the actions it
gives (`alerts.escalation` is the machine that steps it). `dump_state`/`load_state` give the
state's JSON form, which the alarm store persists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from alerts.model import ChannelKind, Condition, ConditionCleared, ConditionRaised
from alerts.settings import AlertSettings

CLOSED_MEMORY = 256
"""How many closed alarm ids are remembered, to tell "closed" from "unknown" on a late ack."""

TIERS = (1, 2, 3)


class NotifyReason(StrEnum):
    OPENED = "opened"
    ESCALATED = "escalated"
    REPEAT = "repeat"


class TransitionKind(StrEnum):
    OPENED = "opened"
    REOPENED = "reopened"
    CLEARED = "cleared"
    TIER_NOTIFIED = "tier_notified"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"
    SUPPRESSED = "suppressed"
    UNSUPPRESSED = "unsuppressed"
    SILENCE_STARTED = "silence_started"
    SILENCE_ENDED = "silence_ended"
    CLOCK_STEPPED_BACK = "clock_stepped_back"


def tier_detail(tier: int, people: Sequence[str]) -> str:
    """A tier-notified transition's detail: the tier and whom it told, by person id."""
    return f"tier {tier}: {', '.join(people)}"


def read_tier_detail(detail: str) -> tuple[int, list[str]] | None:
    """The tier and the person ids of a detail `tier_detail` wrote; None for any other."""
    head, _, people = detail.partition(": ")
    number = head.removeprefix("tier ")
    if head == number or not number.isdigit():
        return None
    return int(number), [person for person in people.split(", ") if person]


@dataclass(frozen=True, slots=True)
class Ack:
    """Someone on site from `at`; their reminders pause until `until` (the on-site time)."""

    person: str
    at: datetime
    how: str
    until: datetime | None = None

    def on_site(self, now: datetime, settings: AlertSettings) -> bool:
        until = self.until or self.at + timedelta(seconds=settings.escalation.on_site_s)
        return now < until


@dataclass(frozen=True, slots=True)
class Silence:
    """A planned silence (defrost, stocktaking), numbered `no`. `scope` is a fridge code or
    a compartment reference; None silences the whole unit."""

    who: str
    why: str
    start: datetime
    until: datetime
    scope: str | None = None
    no: int = 0

    def covers(self, subject: str) -> bool:
        return self.scope is None or subject == self.scope or subject.startswith(f"{self.scope}/")

    @property
    def words(self) -> str:
        return f"silence #{self.no} of {self.scope or 'the whole unit'}"


@dataclass(frozen=True, slots=True)
class Alarm:
    id: str
    condition: Condition
    since: datetime
    opened_at: datetime
    value: float | None = None
    detail: str = ""
    via: str | None = None
    active: bool = True
    cleared_at: datetime | None = None
    escalation_start: datetime | None = None
    notified: dict[int, datetime] = field(default_factory=dict)
    next_repeat: datetime | None = None
    repeats: int = 0
    acks: tuple[Ack, ...] = ()
    suppressed_by: str | None = None
    current: float | None = None
    current_at: datetime | None = None
    peak: float | None = None
    peak_at: datetime | None = None

    def on_site(self, now: datetime, settings: AlertSettings) -> set[str]:
        """The people whose acknowledgement still pauses their reminders."""
        return {ack.person for ack in self.acks if ack.on_site(now, settings)}


@dataclass(frozen=True, slots=True)
class EscalationState:
    unit: str
    clock: datetime | None = None
    alarms: dict[str, Alarm] = field(default_factory=dict)
    silences: tuple[Silence, ...] = ()
    closed: tuple[str, ...] = ()
    opened: int = 0
    """How many alarms this unit has opened: the serial that keeps alarm ids unique."""
    silenced: int = 0
    """How many silences were started: the serial that numbers them."""


@dataclass(frozen=True, slots=True)
class Tick:
    """Only time passes."""


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """Someone is on site. `how`: "link", "scan", "web"..."""

    alarm_id: str
    unit: str
    person: str
    how: str


@dataclass(frozen=True, slots=True)
class Close:
    alarm_id: str
    unit: str
    person: str
    cause: str
    action: str


@dataclass(frozen=True, slots=True)
class StartSilence:
    """`scope`: a fridge code or compartment reference the caller checked exists; None: the
    whole unit (the caller checked that `who` may)."""

    who: str
    why: str
    until: datetime
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class EndSilence:
    """End running silence number `no` before its time; `who` is the account that ends it."""

    no: int
    who: str


Event = ConditionRaised | ConditionCleared | Tick | Acknowledge | Close | StartSilence | EndSilence


@dataclass(frozen=True, slots=True)
class Notify:
    """Tell one person about one alarm, through these channels (see `alerts.messages`)."""

    alarm_id: str
    person: str
    tier: int
    channels: tuple[ChannelKind, ...]
    reason: NotifyReason
    condition: Condition
    since: datetime
    at: datetime
    value: float | None
    detail: str
    repeat: int = 0
    current: float | None = None
    current_at: datetime | None = None
    peak: float | None = None
    peak_at: datetime | None = None
    cleared_at: datetime | None = None
    """The condition has cleared (a reminder to close the alarm with its disposition)."""


@dataclass(frozen=True, slots=True)
class Transition:
    """An audit record: persist it with who and when."""

    alarm_id: str | None
    at: datetime
    kind: TransitionKind
    who: str | None = None
    detail: str = ""


Action = Notify | Transition

_STATE = TypeAdapter(EscalationState)


def dump_state(state: EscalationState) -> dict[str, Any]:
    data: dict[str, Any] = _STATE.dump_python(state, mode="json")
    return data


def load_state(data: Mapping[str, Any]) -> EscalationState:
    return _STATE.validate_python(data)
