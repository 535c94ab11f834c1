"""Properties of the escalation machine over random event sequences (hypothesis)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from alerts.errors import RejectedEventError
from alerts.escalation import step
from alerts.escalation_state import (
    Acknowledge,
    Close,
    EscalationState,
    Event,
    Notify,
    NotifyReason,
    Tick,
    dump_state,
    load_state,
)
from alerts.model import Condition, ConditionCleared, ConditionKind, ConditionRaised
from alerts.settings import AlertSettings
from tests.alerts.conftest import T0, UNIT, alert_config

SETTINGS = AlertSettings.model_validate(alert_config())
WARM = Condition(ConditionKind.TOO_WARM, "F1/冷藏", "208601")
OPS = st.sampled_from(["raise", "clear", "tick", "ack:wang", "ack:li", "close"])


def run(ops: list[tuple[float, str]]) -> list[tuple[float, Notify | str, EscalationState]]:
    """Apply ops at cumulative minute offsets; record notifies and closes with the state."""
    state = EscalationState(UNIT)
    minute = 0.0
    log: list[tuple[float, Notify | str, EscalationState]] = []
    for delta, op in ops:
        minute += delta
        now = T0 + timedelta(minutes=minute)
        alarm_id = next(iter(state.alarms), "none")
        events: dict[str, Event] = {
            "raise": ConditionRaised(WARM, now, now, 9.0),
            "clear": ConditionCleared(WARM, now, now),
            "tick": Tick(),
            "close": Close(alarm_id, UNIT, "wang", "power cut", "moved stock"),
        }
        event = events.get(op) or Acknowledge(alarm_id, UNIT, op.removeprefix("ack:"), "link")
        try:
            state, actions = step(state, event, now, SETTINGS)
        except RejectedEventError:
            continue
        assert load_state(dump_state(state)) == state
        log += [(minute, a, state) for a in actions if isinstance(a, Notify)]
        if op == "close":
            log.append((minute, f"closed:{alarm_id}", state))
    return log


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 90), OPS), max_size=40))
def test_tiers_fire_once_never_early_never_after_close_nor_to_those_on_site(
    ops: list[tuple[float, str]],
) -> None:
    after = {1: 0.0, 2: 30.0, 3: 60.0}
    first: dict[tuple[str, int], float] = {}
    opened: dict[str, float] = {}
    closed: set[str] = set()
    for minute, item, state in run(ops):
        if isinstance(item, str):
            closed.add(item.removeprefix("closed:"))
            continue
        assert item.alarm_id not in closed
        alarm = state.alarms[item.alarm_id]
        opened.setdefault(item.alarm_id, (alarm.opened_at - T0).total_seconds() / 60)
        if item.reason is NotifyReason.REPEAT:
            assert item.person not in alarm.on_site(T0 + timedelta(minutes=minute), SETTINGS)
            continue
        key = (item.alarm_id, item.tier)
        assert key not in first, "a tier was notified twice"
        first[key] = minute
        assert minute >= opened[item.alarm_id] + after[item.tier] - 1e-6


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-120, 120), OPS), max_size=40))
def test_clock_jumps_never_refire_a_tier(ops: list[tuple[float, str]]) -> None:
    seen: set[tuple[str, int]] = set()
    closed: set[str] = set()
    for _, item, _ in run(ops):
        if isinstance(item, str):
            closed.add(item.removeprefix("closed:"))
            continue
        assert item.alarm_id not in closed
        if item.reason is not NotifyReason.REPEAT:
            assert (item.alarm_id, item.tier) not in seen
            seen.add((item.alarm_id, item.tier))
