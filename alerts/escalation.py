"""The escalation state machine: `step(state, event, now, settings) -> (state, actions)`.

Pure and deterministic. The state, the events and the actions are plain data
(`alerts.escalation_state`); the operators' events are checked in `alerts.escalation_operator`.
The caller persists the new state and every action in one transaction, then delivers the
`Notify` actions through the outbox. An operator event that makes no sense (acknowledging
a closed alarm, another unit's alarm...) raises a `RejectedEventError` and nothing changes.

Semantics (DESIGN "Escalation semantics"):
- An alarm opens when a paging condition is raised; tier 1 is notified at once, tier 2 at
  +tier2_after_s and tier 3 at +tier3_after_s if the condition still holds. The escalation
  clock starts when the alarm could first notify (not during a silence or an inhibition).
- Every notified person is reminded every `repeat_every_s` until the alarm is handled: while
  the condition holds, and after it has cleared until someone closes the alarm with its
  disposition (those reminders say it has cleared and ask for the close; seed 002:
  直至处理完成). Acknowledging (someone is on site) pauses the reminders for that person
  only, for `on_site_s`: after it they are reminded again with everyone else (acknowledging
  again starts a new on-site time).
- Temperature alarms follow their compartment (`observe`): every message carries the current
  temperature and the peak so far, each with the time it was measured.
- A cleared condition stops escalation to further tiers; the alarm stays open until someone
  closes it with a disposition. A condition raised again on an open alarm reopens it and
  reminds at once; raised after a close, it opens a new alarm.
- A planned silence suppresses notifications of the alarms in its scope (a compartment
  `F1/冷藏`, a fridge `F1`, or the whole unit); it is bounded (`[alerts.silences] max_s`),
  says why in a bounded reason, and can be ended early (`EndSilence`). An alarm that opens
  during it is recorded (suppressed) and notifies when the silence ends, its escalation clock
  starting then. A gateway power or link alarm suppresses the offline alarms of the probes
  reporting through that gateway. Suppression and its end are recorded as transitions.

Time: due times are absolute UTC, and each tier is notified once (recorded in `notified`).
An alarm's id ends with the unit's serial of opened alarms, so ids stay unique when the wall
clock repeats an instant (an alarm closed and raised again at the same time, a step back).
A forward jump is indistinguishable from time passing (a gateway that was off): what became
due fires once, and reminders resume on their grid rather than firing once per missed slot.
A backward jump shifts the pending schedule back by the same amount, so the remaining waits
are kept instead of a tier being delayed by the size of the jump; it is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from alerts.escalation_operator import operated
from alerts.escalation_state import (
    TIERS,
    Action,
    Alarm,
    EscalationState,
    Event,
    Notify,
    NotifyReason,
    Tick,
    Transition,
    TransitionKind,
    tier_detail,
)
from alerts.model import Condition, ConditionCleared, ConditionKind, ConditionRaised
from alerts.settings import AlertSettings


def step(
    state: EscalationState, event: Event, now: datetime, settings: AlertSettings
) -> tuple[EscalationState, list[Action]]:
    """Apply one event at `now`, then fire whatever became due."""
    return step_many(state, [event], now, settings)


def step_many(
    state: EscalationState, events: Sequence[Event], now: datetime, settings: AlertSettings
) -> tuple[EscalationState, list[Action]]:
    """Apply events that happened at the same `now`, then fire whatever became due, once.

    Advancing once per run of raises keeps a burst linear (1,000 compartments alarming
    together) and lets a link alarm suppress its probes' offline alarms whatever their order.
    Before a clear, what is pending is advanced first, so an alarm raised and cleared in the
    same batch (a power gap found at start-up) still reaches tier 1 once. A refused event
    raises before anything of the batch reaches the caller's state.
    """
    actions: list[Action] = []
    state = _absorb_clock(state, now, actions)
    pending = False
    for event in events:
        if pending and isinstance(event, ConditionCleared):
            state = _advance(state, now, settings, actions)
        state = _apply(state, event, now, settings, actions)
        pending = True
    state = _advance(state, now, settings, actions)
    return state, actions


def _absorb_clock(state: EscalationState, now: datetime, actions: list[Action]) -> EscalationState:
    if state.clock is None or now >= state.clock:
        return replace(state, clock=now)
    delta = now - state.clock
    actions.append(Transition(None, now, TransitionKind.CLOCK_STEPPED_BACK, detail=str(-delta)))
    alarms = {
        alarm_id: replace(
            alarm,
            escalation_start=_shift(alarm.escalation_start, delta),
            next_repeat=_shift(alarm.next_repeat, delta),
            acks=tuple(replace(ack, until=_shift(ack.until, delta)) for ack in alarm.acks),
        )
        for alarm_id, alarm in state.alarms.items()
    }
    return replace(state, clock=now, alarms=alarms)


def _shift(moment: datetime | None, delta: timedelta) -> datetime | None:
    return None if moment is None else moment + delta


def _apply(
    state: EscalationState,
    event: Event,
    now: datetime,
    settings: AlertSettings,
    actions: list[Action],
) -> EscalationState:
    if isinstance(event, ConditionRaised):
        return _raised(state, event, now, actions)
    if isinstance(event, ConditionCleared):
        return _cleared(state, event, now, actions)
    if isinstance(event, Tick):
        return state
    return operated(state, event, now, settings, actions)


def _cleared(
    state: EscalationState, event: ConditionCleared, now: datetime, actions: list[Action]
) -> EscalationState:
    alarm = _open_alarm_for(state, event.condition)
    if alarm is None or not alarm.active:
        return state
    actions.append(Transition(alarm.id, now, TransitionKind.CLEARED))
    cleared = replace(alarm, active=False, cleared_at=now)
    return replace(state, alarms=state.alarms | {alarm.id: cleared})


def _raised(
    state: EscalationState, event: ConditionRaised, now: datetime, actions: list[Action]
) -> EscalationState:
    if not event.condition.kind.pages:
        return state
    alarm = _open_alarm_for(state, event.condition)
    if alarm is None:
        state = replace(state, opened=state.opened + 1)
        alarm = Alarm(
            id=f"{event.condition.key}@{now.isoformat()}~{state.opened}",
            condition=event.condition,
            since=event.since,
            opened_at=now,
            value=event.value,
            detail=event.detail,
            via=event.via,
        )
        actions.append(Transition(alarm.id, now, TransitionKind.OPENED, detail=event.detail))
    elif alarm.active:
        alarm = replace(alarm, value=event.value, detail=event.detail)
    else:
        actions.append(Transition(alarm.id, now, TransitionKind.REOPENED, detail=event.detail))
        alarm = replace(
            alarm,
            active=True,
            cleared_at=None,
            value=event.value,
            detail=event.detail,
            next_repeat=now if alarm.notified else None,
        )
    if event.condition.kind.measures_temperature and event.value is not None:
        alarm = _measured(alarm, event.value, event.value_at or event.at)
        current = event.value if event.current is None else event.current
        alarm = _measured(alarm, current, event.at)
    return replace(state, alarms=state.alarms | {alarm.id: alarm})


def observe(
    state: EscalationState, probe: str, subject: str, value: float, at: datetime
) -> EscalationState:
    """A temperature measured by `probe` in compartment `subject`: the current value and the
    peak so far of its open temperature alarms. No event and no transition: the caller keeps
    it in memory and persists it with its next step."""
    measured = {
        alarm.id: _measured(alarm, value, at)
        for alarm in state.alarms.values()
        if alarm.active
        and alarm.condition.kind.measures_temperature
        and alarm.condition.subject == subject
        and alarm.condition.probe == probe
    }
    return replace(state, alarms=state.alarms | measured) if measured else state


def _measured(alarm: Alarm, value: float, at: datetime) -> Alarm:
    higher_is_worse = alarm.condition.kind is ConditionKind.TOO_WARM
    worse = alarm.peak is None or (value > alarm.peak if higher_is_worse else value < alarm.peak)
    if worse:
        alarm = replace(alarm, peak=value, peak_at=at)
    if alarm.current_at is None or at >= alarm.current_at:
        alarm = replace(alarm, current=value, current_at=at)
    return alarm


def _open_alarm_for(state: EscalationState, condition: Condition) -> Alarm | None:
    return next((a for a in state.alarms.values() if a.condition == condition), None)


def _advance(
    state: EscalationState, now: datetime, settings: AlertSettings, actions: list[Action]
) -> EscalationState:
    for silence in state.silences:
        if silence.until <= now:
            detail = f"{silence.words} ended: {silence.why}"
            actions.append(Transition(None, now, TransitionKind.SILENCE_ENDED, silence.who, detail))
    state = replace(state, silences=tuple(s for s in state.silences if s.until > now))
    inhibitors = {
        other.condition.subject: other.id
        for other in state.alarms.values()
        if other.condition.kind.inhibits_offline and other.active
    }
    alarms = {
        alarm.id: _advance_alarm(
            alarm, _suppressor(state, alarm, inhibitors), now, settings, actions
        )
        for alarm in sorted(state.alarms.values(), key=lambda a: (a.opened_at, a.id))
    }
    return replace(state, alarms=alarms)


def _suppressor(state: EscalationState, alarm: Alarm, inhibitors: dict[str, str]) -> str | None:
    """Why this alarm must not notify now: a silence, or its gateway or bus being down.

    A link or power alarm on the bus or gateway a probe reports through explains the probe's
    silence (offline) and its bus errors (a fault with detail `bus_error`): one alarm, not one
    per probe.
    """
    for silence in state.silences:
        if silence.covers(alarm.condition.subject):
            return f"{silence.words} by {silence.who}: {silence.why}"
    kind = alarm.condition.kind
    explained_by_link = kind is ConditionKind.PROBE_OFFLINE or (
        kind is ConditionKind.PROBE_FAULT and alarm.detail == "bus_error"
    )
    if explained_by_link and alarm.via is not None and alarm.via in inhibitors:
        return f"inhibited by {inhibitors[alarm.via]}"
    return None


def _advance_alarm(
    alarm: Alarm,
    suppressor: str | None,
    now: datetime,
    settings: AlertSettings,
    actions: list[Action],
) -> Alarm:
    if suppressor != alarm.suppressed_by:
        kind = TransitionKind.SUPPRESSED if suppressor else TransitionKind.UNSUPPRESSED
        actions.append(Transition(alarm.id, now, kind, detail=suppressor or ""))
        alarm = replace(alarm, suppressed_by=suppressor)
    if suppressor is not None:
        return alarm
    sent: set[str] = set()
    if alarm.active:
        alarm = _escalate(alarm, now, settings, actions, sent)
    return _remind(alarm, now, settings, actions, sent)


def _escalate(
    alarm: Alarm, now: datetime, settings: AlertSettings, actions: list[Action], sent: set[str]
) -> Alarm:
    """Notify each tier that became due; `sent` collects who was told now."""
    start = alarm.escalation_start or now
    notified = dict(alarm.notified)
    for tier in TIERS:
        if tier in notified or now < start + timedelta(seconds=_tier_after_s(tier, settings)):
            continue
        notified[tier] = now
        people = settings.tier_people(tier)
        actions.append(
            Transition(
                alarm.id,
                now,
                TransitionKind.TIER_NOTIFIED,
                detail=tier_detail(tier, people),
            )
        )
        reason = NotifyReason.OPENED if tier == 1 else NotifyReason.ESCALATED
        for person in people:
            if person not in sent:
                sent.add(person)
                actions.append(
                    _notify(alarm, person, tier=tier, reason=reason, now=now, settings=settings)
                )
    if start != alarm.escalation_start or notified != alarm.notified:
        alarm = replace(alarm, escalation_start=start, notified=notified)
    return alarm


def _remind(
    alarm: Alarm, now: datetime, settings: AlertSettings, actions: list[Action], sent: set[str]
) -> Alarm:
    """Remind everyone notified who is not on site, on the grid of `repeat_every_s`."""
    every = timedelta(seconds=settings.escalation.repeat_every_s)
    if alarm.next_repeat is None:
        return replace(alarm, next_repeat=now + every) if sent else alarm
    if now < alarm.next_repeat:
        return alarm
    acked = alarm.on_site(now, settings)
    repeat = alarm.repeats + 1
    for tier in sorted(alarm.notified, reverse=True):
        for person in settings.tier_people(tier):
            if person not in sent and person not in acked:
                sent.add(person)
                actions.append(
                    _notify(
                        alarm,
                        person,
                        tier=tier,
                        reason=NotifyReason.REPEAT,
                        now=now,
                        settings=settings,
                        repeat=repeat,
                    )
                )
    missed = (now - alarm.next_repeat) // every
    return replace(alarm, next_repeat=alarm.next_repeat + (missed + 1) * every, repeats=repeat)


def _tier_after_s(tier: int, settings: AlertSettings) -> float:
    timing = settings.escalation
    return {1: 0.0, 2: timing.tier2_after_s, 3: timing.tier3_after_s}[tier]


def _notify(
    alarm: Alarm,
    person: str,
    *,
    tier: int,
    reason: NotifyReason,
    now: datetime,
    settings: AlertSettings,
    repeat: int = 0,
) -> Notify:
    return Notify(
        alarm_id=alarm.id,
        person=person,
        tier=tier,
        channels=settings.channels_for(tier, settings.person(person)),
        reason=reason,
        condition=alarm.condition,
        since=alarm.since,
        at=now,
        value=alarm.value,
        detail=alarm.detail,
        repeat=repeat,
        current=alarm.current,
        current_at=alarm.current_at,
        peak=alarm.peak,
        peak_at=alarm.peak_at,
        cleared_at=alarm.cleared_at,
    )
