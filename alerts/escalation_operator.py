"""The operators' events on an alarm (acknowledge, close) and on silences (start, end early):
each checks the event makes sense, records its transition, or raises a `RejectedEventError`
and nothing changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from alerts.errors import (
    AlarmClosedError,
    ConditionStillHoldsError,
    RejectedEventError,
    SilenceRefusedError,
    UnknownAlarmError,
    UnknownPersonError,
    UnknownSilenceError,
    WrongUnitError,
)
from alerts.escalation_state import (
    CLOSED_MEMORY,
    TIERS,
    Ack,
    Acknowledge,
    Action,
    Alarm,
    Close,
    EndSilence,
    EscalationState,
    Silence,
    StartSilence,
    Transition,
    TransitionKind,
)
from alerts.settings import AlertSettings


def operated(
    state: EscalationState,
    event: Acknowledge | Close | StartSilence | EndSilence,
    now: datetime,
    settings: AlertSettings,
    actions: list[Action],
) -> EscalationState:
    if isinstance(event, Acknowledge):
        return _acknowledged(state, event, now, settings, actions)
    if isinstance(event, Close):
        return _closed(state, event, now, settings, actions)
    if isinstance(event, StartSilence):
        return _silenced(state, event, now, settings, actions)
    return _silence_ended(state, event, now, actions)


def _acknowledged(
    state: EscalationState,
    event: Acknowledge,
    now: datetime,
    settings: AlertSettings,
    actions: list[Action],
) -> EscalationState:
    alarm = _operator_target(state, event.alarm_id, event.unit, event.person, settings)
    if event.person in alarm.on_site(now, settings):
        return state
    actions.append(Transition(alarm.id, now, TransitionKind.ACKNOWLEDGED, event.person, event.how))
    until = now + timedelta(seconds=settings.escalation.on_site_s)
    acked = replace(alarm, acks=(*alarm.acks, Ack(event.person, now, event.how, until)))
    return replace(state, alarms=state.alarms | {alarm.id: acked})


def _closed(
    state: EscalationState,
    event: Close,
    now: datetime,
    settings: AlertSettings,
    actions: list[Action],
) -> EscalationState:
    alarm = _operator_target(state, event.alarm_id, event.unit, event.person, settings)
    if alarm.active:
        raise ConditionStillHoldsError(
            f"alarm {alarm.id}: the condition still holds; close it once it has cleared"
        )
    if not event.cause.strip() or not event.action.strip():
        raise RejectedEventError(f"alarm {alarm.id}: a close needs the cause and the action taken")
    detail = f"cause: {event.cause}; action: {event.action}"
    actions.append(Transition(alarm.id, now, TransitionKind.CLOSED, event.person, detail))
    alarms = {k: v for k, v in state.alarms.items() if k != alarm.id}
    return replace(state, alarms=alarms, closed=(*state.closed, alarm.id)[-CLOSED_MEMORY:])


def _silenced(
    state: EscalationState,
    event: StartSilence,
    now: datetime,
    settings: AlertSettings,
    actions: list[Action],
) -> EscalationState:
    bounds = settings.silences
    if event.until <= now:
        raise SilenceRefusedError(
            f"silence until {event.until.isoformat()} is not in the future; fix: give an end "
            "time after now"
        )
    longest = timedelta(seconds=bounds.max_s)
    if event.until - now > longest:
        raise SilenceRefusedError(
            f"a silence may last at most {_hours(bounds.max_s)}, this one "
            f"{_hours((event.until - now).total_seconds())}; fix: end it by "
            f"{(now + longest).isoformat()} and start another then if still needed"
        )
    if not event.who.strip() or not event.why.strip():
        raise SilenceRefusedError("a silence needs who asked for it and why; fix: give a reason")
    if len(event.why) > bounds.reason_max:
        raise SilenceRefusedError(
            f"the reason has {len(event.why)} characters, at most {bounds.reason_max} are "
            "kept; fix: say it shorter"
        )
    number = state.silenced + 1
    silence = Silence(event.who, event.why, now, event.until, event.scope, number)
    detail = f"{silence.words} until {event.until.isoformat()}: {event.why}"
    actions.append(Transition(None, now, TransitionKind.SILENCE_STARTED, event.who, detail))
    return replace(state, silences=(*state.silences, silence), silenced=number)


def _silence_ended(
    state: EscalationState, event: EndSilence, now: datetime, actions: list[Action]
) -> EscalationState:
    silence = next((s for s in state.silences if s.no == event.no and s.until > now), None)
    if silence is None:
        running = ", ".join(f"#{s.no}" for s in state.silences) or "none"
        raise UnknownSilenceError(
            f"no running silence #{event.no} (running: {running}); fix: list them with "
            "GET /api/alarms"
        )
    detail = f"{silence.words} ended early by {event.who}: {silence.why}"
    actions.append(Transition(None, now, TransitionKind.SILENCE_ENDED, event.who, detail))
    return replace(state, silences=tuple(s for s in state.silences if s is not silence))


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h"


def _operator_target(
    state: EscalationState, alarm_id: str, unit: str, person: str, settings: AlertSettings
) -> Alarm:
    if unit != state.unit:
        raise WrongUnitError(
            f"alarm {alarm_id} names unit {unit}, this gateway serves {state.unit}"
        )
    if alarm_id in state.closed:
        raise AlarmClosedError(f"alarm {alarm_id} is already closed")
    alarm = state.alarms.get(alarm_id)
    if alarm is None:
        raise UnknownAlarmError(f"no alarm {alarm_id} on this gateway")
    if not any(person in settings.tier_people(tier) for tier in TIERS):
        raise UnknownPersonError(f"{person!r} is not in any tier of unit {state.unit}")
    return alarm
