"""The escalation state machine on explicit times: tiers, repeats, acks, closes, silences,
inhibition, restarts and clock jumps."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from alerts.errors import (
    AlarmClosedError,
    ConditionStillHoldsError,
    RejectedEventError,
    UnknownAlarmError,
    UnknownPersonError,
    WrongUnitError,
)
from alerts.escalation import step, step_many
from alerts.escalation_state import (
    Acknowledge,
    Action,
    Close,
    EscalationState,
    Event,
    Notify,
    NotifyReason,
    StartSilence,
    Tick,
    Transition,
    TransitionKind,
    dump_state,
    load_state,
)
from alerts.model import ChannelKind, Condition, ConditionCleared, ConditionKind, ConditionRaised
from alerts.settings import AlertSettings
from tests.alerts.conftest import T0, UNIT

WARM = Condition(ConditionKind.TOO_WARM, "F1/冷藏", "208601")
OFFLINE = Condition(ConditionKind.PROBE_OFFLINE, "F1/冷藏", "208601")
LINK = Condition(ConditionKind.GATEWAY_LINK, "rs485-1")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def raised(condition: Condition = WARM, minute: float = 0) -> ConditionRaised:
    return ConditionRaised(condition, at(minute), at(minute), 9.4, via="rs485-1")


class Run:
    """Drives the machine and keeps every action, as the store would."""

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings
        self.state = EscalationState(UNIT)
        self.actions: list[Action] = []

    def __call__(self, minute: float, event: Event | None = None) -> list[Action]:
        self.state, actions = step(self.state, event or Tick(), at(minute), self.settings)
        self.actions += actions
        return actions

    def notified(self) -> list[tuple[str, int, NotifyReason]]:
        return [(a.person, a.tier, a.reason) for a in self.actions if isinstance(a, Notify)]

    @property
    def alarm_id(self) -> str:
        (alarm_id,) = self.state.alarms
        return alarm_id


def notifies(actions: list[Action]) -> list[tuple[str, int, NotifyReason]]:
    return [(a.person, a.tier, a.reason) for a in actions if isinstance(a, Notify)]


def test_tier_one_at_once_tier_two_at_thirty_tier_three_at_sixty(settings: AlertSettings) -> None:
    run = Run(settings)
    assert notifies(run(0, raised())) == [("wang", 1, NotifyReason.OPENED)]
    assert notifies(run(14.9)) == []
    assert notifies(run(15)) == [("wang", 1, NotifyReason.REPEAT)]
    assert notifies(run(29.99)) == []
    assert notifies(run(30)) == [
        ("li", 2, NotifyReason.ESCALATED),
        ("wang", 1, NotifyReason.REPEAT),
    ]
    tier3 = run(60)
    assert notifies(tier3) == [
        ("zhao", 3, NotifyReason.ESCALATED),
        ("li", 2, NotifyReason.REPEAT),
        ("wang", 1, NotifyReason.REPEAT),
    ]
    zhao = next(a for a in tier3 if isinstance(a, Notify) and a.person == "zhao")
    assert ChannelKind.VOICE in zhao.channels
    assert ChannelKind.WECHAT_OA not in zhao.channels  # zhao has no openid


def test_restart_at_25_minutes_sends_tier_two_at_30_exactly_once(settings: AlertSettings) -> None:
    run = Run(settings)
    run(0, raised())
    run(25)
    saved = json.dumps(dump_state(run.state), ensure_ascii=False)
    resumed = Run(settings)
    resumed.state = load_state(json.loads(saved))
    assert resumed.state == run.state
    assert notifies(resumed(29)) == []
    assert ("li", 2, NotifyReason.ESCALATED) in notifies(resumed(30))
    assert notifies(resumed(30.5)) == []


def test_ack_pauses_repeats_for_the_acknowledger_only_while_on_site(
    settings: AlertSettings,
) -> None:
    run = Run(settings)
    run(0, raised())
    run(30)
    acked = run(31, Acknowledge(run.alarm_id, UNIT, "wang", "link"))
    assert [a.kind for a in acked if isinstance(a, Transition)] == [TransitionKind.ACKNOWLEDGED]
    assert notifies(run(45)) == [("li", 2, NotifyReason.REPEAT)]
    assert run(46, Acknowledge(run.alarm_id, UNIT, "wang", "scan")) == []  # still on site
    assert ("zhao", 3, NotifyReason.ESCALATED) in notifies(run(60))
    assert ("wang", 1, NotifyReason.REPEAT) not in notifies(run(60.5))
    # 30 min on site (31 -> 61) and still too warm: wang is reminded again with everyone
    assert sorted(notifies(run(75))) == [
        ("li", 2, NotifyReason.REPEAT),
        ("wang", 1, NotifyReason.REPEAT),
        ("zhao", 3, NotifyReason.REPEAT),
    ]
    again = run(76, Acknowledge(run.alarm_id, UNIT, "wang", "scan"))
    assert [a.kind for a in again if isinstance(a, Transition)] == [TransitionKind.ACKNOWLEDGED]
    assert ("wang", 1, NotifyReason.REPEAT) not in notifies(run(90))


def test_close_needs_a_cleared_condition_and_a_disposition(settings: AlertSettings) -> None:
    run = Run(settings)
    run(0, raised())
    alarm_id = run.alarm_id
    close = Close(alarm_id, UNIT, "wang", "door left open", "closed the door, checked stock")
    before = run.state
    with pytest.raises(ConditionStillHoldsError):
        run(10, close)
    assert run.state == before
    run(12, ConditionCleared(WARM, at(0), at(12)))
    # Cleared: no escalation to tier 2, but a reminder until the alarm is closed.
    (reminder,) = [a for a in run(45) if isinstance(a, Notify)]
    assert (reminder.person, reminder.tier, reminder.reason) == ("wang", 1, NotifyReason.REPEAT)
    assert reminder.cleared_at == at(12)
    with pytest.raises(RejectedEventError):
        run(46, Close(alarm_id, UNIT, "wang", " ", "x"))
    closed = run(46, close)
    assert [a.kind for a in closed if isinstance(a, Transition)] == [TransitionKind.CLOSED]
    assert run.state.alarms == {}
    with pytest.raises(AlarmClosedError):
        run(47, Acknowledge(alarm_id, UNIT, "wang", "link"))
    assert notifies(run(200)) == []


def test_operator_events_for_unknown_alarms_units_and_people_are_refused(
    settings: AlertSettings,
) -> None:
    run = Run(settings)
    run(0, raised())
    with pytest.raises(WrongUnitError):
        run(1, Acknowledge(run.alarm_id, "6101030299", "wang", "link"))
    with pytest.raises(UnknownAlarmError):
        run(1, Acknowledge("nope", UNIT, "wang", "link"))
    with pytest.raises(UnknownPersonError):
        run(1, Acknowledge(run.alarm_id, UNIT, "mallory", "link"))


def test_raised_again_while_open_reopens_and_reminds(settings: AlertSettings) -> None:
    run = Run(settings)
    run(0, raised())
    run(10, ConditionCleared(WARM, at(0), at(10)))
    reopened = run(20, raised(minute=20))
    assert TransitionKind.REOPENED in [a.kind for a in reopened if isinstance(a, Transition)]
    assert notifies(reopened) == [("wang", 1, NotifyReason.REPEAT)]
    assert len(run.state.alarms) == 1


def test_a_planned_silence_suppresses_then_escalation_starts_when_it_ends(
    settings: AlertSettings,
) -> None:
    run = Run(settings)
    run(0, StartSilence("wang", "defrost", at(40), scope="F1"))
    opened = run(5, raised(minute=5))
    assert notifies(opened) == []
    assert TransitionKind.SUPPRESSED in [a.kind for a in opened if isinstance(a, Transition)]
    assert notifies(run(39)) == []
    assert notifies(run(40)) == [("wang", 1, NotifyReason.OPENED)]
    reminders = notifies(run(69))  # the escalation clock started at 40, not at 5
    assert ("li", 2, NotifyReason.ESCALATED) not in reminders
    assert ("li", 2, NotifyReason.ESCALATED) in notifies(run(70))
    with pytest.raises(RejectedEventError):
        run(71, StartSilence("wang", "late", at(70)))


def test_a_silence_elsewhere_does_not_suppress(settings: AlertSettings) -> None:
    run = Run(settings)
    run(0, StartSilence("wang", "stocktaking", at(60), scope="F2"))
    assert notifies(run(1, raised(minute=1))) == [("wang", 1, NotifyReason.OPENED)]


def test_a_link_alarm_inhibits_its_probes_offline_alarms(settings: AlertSettings) -> None:
    run = Run(settings)
    assert notifies(run(0, ConditionRaised(LINK, at(0), at(0)))) == [
        ("wang", 1, NotifyReason.OPENED)
    ]
    offline = run(1, ConditionRaised(OFFLINE, at(0), at(1), via="rs485-1"))
    assert notifies(offline) == []
    later = [a for a in run(31) if isinstance(a, Notify)]
    assert {a.condition for a in later} == {LINK}
    back = run(40, ConditionCleared(LINK, at(0), at(40)))
    assert TransitionKind.UNSUPPRESSED in [a.kind for a in back if isinstance(a, Transition)]
    offline_alarm = next(a for a in run.state.alarms.values() if a.condition == OFFLINE)
    assert [(a.alarm_id, a.person) for a in back if isinstance(a, Notify)] == [
        (offline_alarm.id, "wang")
    ]


def test_a_link_alarm_also_explains_its_probes_bus_errors(settings: AlertSettings) -> None:
    fault = Condition(ConditionKind.PROBE_FAULT, "F1/冷藏", "208601")
    run = Run(settings)
    run(0, ConditionRaised(LINK, at(0), at(0)))
    bus_error = ConditionRaised(fault, at(0), at(1), detail="bus_error", via="rs485-1")
    assert notifies(run(1, bus_error)) == []
    broken_sensor = Condition(ConditionKind.PROBE_FAULT, "F2/冷藏", "208603")
    disconnected = ConditionRaised(
        broken_sensor, at(2), at(2), detail="disconnected", via="rs485-1"
    )
    assert notifies(run(2, disconnected)) == [("wang", 1, NotifyReason.OPENED)], (
        "a sensor reporting itself disconnected is not explained by the link"
    )


def test_a_clock_stepping_back_neither_refires_nor_delays_by_the_jump(
    settings: AlertSettings,
) -> None:
    run = Run(settings)
    run(0, raised())
    run(25)
    jumped = run(25 - 60)  # NTP steps the clock back an hour
    assert [a.kind for a in jumped if isinstance(a, Transition)] == [
        TransitionKind.CLOCK_STEPPED_BACK
    ]
    assert notifies(run(25 - 60 + 4)) == []
    assert ("li", 2, NotifyReason.ESCALATED) in notifies(run(25 - 60 + 5))
    tier1 = [n for n in run.notified() if n[2] is NotifyReason.OPENED]
    assert tier1 == [("wang", 1, NotifyReason.OPENED)]


def test_a_forward_jump_fires_what_became_due_once(settings: AlertSettings) -> None:
    run = Run(settings)
    run(0, raised())
    jumped = notifies(run(180))
    assert sorted(jumped) == sorted(
        [
            ("li", 2, NotifyReason.ESCALATED),
            ("zhao", 3, NotifyReason.ESCALATED),
            ("wang", 1, NotifyReason.REPEAT),
        ]
    )
    assert notifies(run(194)) == []
    assert len(notifies(run(195))) == 3


def test_an_alarm_raised_again_at_the_instant_of_its_close_gets_a_new_id(
    settings: AlertSettings,
) -> None:
    """Found by the clock-jump property: the closed alarm's id was reused, so the new alarm's
    tier-1 message went out under a closed id and could not be acknowledged."""
    run = Run(settings)
    run(0, raised())
    first = run.alarm_id
    run(0, ConditionCleared(WARM, at(0), at(0)))
    run(0, Close(first, UNIT, "wang", "door left open", "closed the door"))
    again = notifies(run(0, raised()))
    assert again == [("wang", 1, NotifyReason.OPENED)]
    assert run.alarm_id != first
    run(1, Acknowledge(run.alarm_id, UNIT, "wang", "link"))


def test_a_clock_stepping_back_past_a_closed_alarm_never_reuses_its_id(
    settings: AlertSettings,
) -> None:
    run = Run(settings)
    run(10, raised(minute=10))
    first = run.alarm_id
    run(20, ConditionCleared(WARM, at(20), at(20)))
    run(21, Close(first, UNIT, "wang", "door left open", "closed the door"))
    run(10, raised(minute=10))  # NTP steps back to the first alarm's opening instant
    assert run.alarm_id != first
    opened = [a.alarm_id for a in run.actions if isinstance(a, Notify)]
    assert opened == [first, run.alarm_id]


def test_who_excursions_do_not_page(settings: AlertSettings) -> None:
    run = Run(settings)
    heat = Condition(ConditionKind.WHO_HEAT, "F1/冷藏", "208601")
    assert run(0, ConditionRaised(heat, at(0), at(0), 8.0)) == []
    assert run.state.alarms == {}


@pytest.mark.parametrize("link_first", [True, False])
def test_a_batch_lets_the_link_alarm_suppress_offline_whatever_the_order(
    settings: AlertSettings, link_first: bool
) -> None:
    link = ConditionRaised(LINK, at(0), at(0))
    offline = ConditionRaised(OFFLINE, at(0), at(0), via="rs485-1")
    batch = [link, offline] if link_first else [offline, link]
    state, actions = step_many(EscalationState(UNIT), batch, at(0), settings)
    assert [n.condition for n in actions if isinstance(n, Notify)] == [LINK]
    assert len(state.alarms) == 2


def test_raised_and_cleared_in_one_batch_still_reaches_tier_1(settings: AlertSettings) -> None:
    batch = [raised(), ConditionCleared(WARM, at(0), at(0))]
    state, actions = step_many(EscalationState(UNIT), batch, at(0), settings)
    assert notifies(actions) == [("wang", 1, NotifyReason.OPENED)]
    assert not next(iter(state.alarms.values())).active


def test_a_burst_in_one_batch_notifies_each_compartment_once(settings: AlertSettings) -> None:
    burst = [raised(Condition(ConditionKind.TOO_WARM, f"F{n}/冷藏", f"P{n}")) for n in range(200)]
    state, actions = step_many(EscalationState(UNIT), burst, at(0), settings)
    assert len(notifies(actions)) == 200
    assert len(state.alarms) == 200
