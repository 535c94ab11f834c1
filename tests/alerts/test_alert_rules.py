"""Excursion rules on explicit times: hold-offs, hysteresis, WHO thresholds, state round trip."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from alerts.model import ConditionChange, ConditionCleared, ConditionKind, ConditionRaised
from alerts.rules import (
    CompartmentRules,
    CompartmentState,
    ProbeWatch,
    dump_state,
    load_state,
    power_gap,
)
from alerts.settings import RuleThresholds
from gateway.core.compartments import CompartmentKind
from probes.reading import ProbeStatus, Reading
from tests.alerts.conftest import T0

FRIDGE = CompartmentRules(
    ref="F1/冷藏",
    kind=CompartmentKind.REFRIGERATED,
    min_c=2.0,
    max_c=8.0,
    probes={"208601": ProbeWatch(60.0, via="rs485-1")},
)


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def feed(
    rules: CompartmentRules,
    samples: list[tuple[float, float | ProbeStatus]],
    state: CompartmentState | None = None,
) -> tuple[CompartmentState, list[tuple[float, ConditionChange]]]:
    """Feed (minute, temperature or fault status) samples; changes tagged with their minute."""
    state = state or rules.initial_state(T0)
    seen: list[tuple[float, ConditionChange]] = []
    for minute, sample in samples:
        if isinstance(sample, ProbeStatus):
            reading = Reading("208601", minutes(minute), sample)
        else:
            reading = Reading("208601", minutes(minute), ProbeStatus.OK, temperature=sample)
        state, changes = rules.on_reading(state, reading)
        seen += [(minute, change) for change in changes if change.condition.kind.pages]
    return state, seen


def every_minute(start: int, end: int, value: float) -> list[tuple[float, float | ProbeStatus]]:
    return [(m, value) for m in range(start, end)]


def test_too_warm_fires_after_the_hold_off_not_for_a_door_opening() -> None:
    _, door = feed(FRIDGE, every_minute(0, 5, 9.5) + every_minute(5, 30, 5.0))
    assert door == []
    _, warm = feed(FRIDGE, every_minute(0, 20, 9.5))
    assert [(m, type(c), c.condition.kind) for m, c in warm] == [
        (15, ConditionRaised, ConditionKind.TOO_WARM)
    ]
    raised = warm[0][1]
    assert isinstance(raised, ConditionRaised)
    assert (raised.since, raised.value, raised.via) == (T0, 9.5, "rs485-1")


def test_too_warm_clears_after_five_minutes_inside_the_range_with_hysteresis() -> None:
    samples = every_minute(0, 16, 9.0) + every_minute(16, 30, 7.9) + every_minute(30, 40, 7.0)
    _, changes = feed(FRIDGE, samples)
    assert [(m, type(c)) for m, c in changes] == [(15, ConditionRaised), (35, ConditionCleared)]


def test_a_refrigerated_compartment_at_zero_alarms_within_two_minutes() -> None:
    _, freezing = feed(FRIDGE, every_minute(0, 5, 0.0))
    assert [(m, c.condition.kind) for m, c in freezing] == [(2, ConditionKind.TOO_COLD)]
    _, chilly = feed(FRIDGE, every_minute(0, 20, 1.5))
    assert [(m, c.condition.kind) for m, c in chilly] == [(15, ConditionKind.TOO_COLD)]


def test_fault_readings_alarm_after_three_and_never_show_as_temperature() -> None:
    samples: list[tuple[float, float | ProbeStatus]] = [
        (0, 5.0),
        (1, ProbeStatus.DISCONNECTED),
        (2, ProbeStatus.DISCONNECTED),
        (3, ProbeStatus.DISCONNECTED),
        (4, 5.0),
    ]
    _, changes = feed(FRIDGE, samples)
    assert [(m, type(c), c.condition.kind) for m, c in changes] == [
        (3, ConditionRaised, ConditionKind.PROBE_FAULT),
        (4, ConditionCleared, ConditionKind.PROBE_FAULT),
    ]
    raised = changes[0][1]
    assert isinstance(raised, ConditionRaised)
    assert (raised.detail, raised.value, raised.since) == ("disconnected", None, minutes(1))


def test_who_heat_is_inclusive_at_eight_degrees_and_ten_hours() -> None:
    samples = [(m, 8.0) for m in range(0, 601, 10)]
    state = FRIDGE.initial_state(T0)
    kinds = []
    for minute, value in samples:
        reading = Reading("208601", minutes(minute), ProbeStatus.OK, temperature=value)
        state, changes = FRIDGE.on_reading(state, reading)
        kinds += [(minute, c.condition.kind) for c in changes if not c.condition.kind.pages]
    assert kinds == [(600, ConditionKind.WHO_HEAT)]


def test_who_freeze_at_minus_half_for_sixty_minutes() -> None:
    state = FRIDGE.initial_state(T0)
    found = []
    for minute in range(62):
        value = -0.5 if minute < 61 else 3.0
        reading = Reading("208601", minutes(minute), ProbeStatus.OK, temperature=value)
        state, changes = FRIDGE.on_reading(state, reading)
        found += [
            (minute, type(c)) for c in changes if c.condition.kind is ConditionKind.WHO_FREEZE
        ]
    assert found == [(60, ConditionRaised), (61, ConditionCleared)]


def test_offline_after_three_poll_intervals_and_back_on_the_next_reading() -> None:
    state = FRIDGE.initial_state(T0)
    state, none = FRIDGE.on_tick(state, minutes(2.9))
    state, offline = FRIDGE.on_tick(state, minutes(3))
    assert none == []
    assert [c.condition.kind for c in offline] == [ConditionKind.PROBE_OFFLINE]
    state, again = FRIDGE.on_tick(state, minutes(10))
    assert again == []
    reading = Reading("208601", minutes(11), ProbeStatus.OK, temperature=5.0)
    _, back = FRIDGE.on_reading(state, reading)
    assert [type(c) for c in back] == [ConditionCleared]


def test_a_restart_gives_probes_a_fresh_grace_period() -> None:
    state, _ = FRIDGE.on_reading(
        FRIDGE.initial_state(T0), Reading("208601", T0, ProbeStatus.OK, temperature=5.0)
    )
    state = FRIDGE.on_restart(state, minutes(120))
    _, changes = FRIDGE.on_tick(state, minutes(121))
    assert changes == []


def test_battery_low_with_hysteresis() -> None:
    state = FRIDGE.initial_state(T0)
    levels = [(0, 30.0), (1, 19.0), (2, 22.0), (3, 26.0)]
    found = []
    for minute, level in levels:
        reading = Reading("208601", minutes(minute), ProbeStatus.OK, temperature=5.0, battery=level)
        state, changes = FRIDGE.on_reading(state, reading)
        found += [(minute, type(c)) for c in changes]
    assert found == [(1, ConditionRaised), (3, ConditionCleared)]


def test_power_gap_reports_the_gap_once() -> None:
    changes = power_gap("10001", T0, minutes(95), RuleThresholds())
    raised, cleared = changes
    assert isinstance(raised, ConditionRaised)
    assert isinstance(cleared, ConditionCleared)
    assert (raised.condition.kind, raised.value, raised.since) == (
        ConditionKind.GATEWAY_POWER,
        95 * 60.0,
        T0,
    )
    assert power_gap("10001", T0, minutes(1), RuleThresholds()) == []
    assert power_gap("10001", T0, minutes(-60), RuleThresholds()) == []


def test_state_survives_serialisation_mid_episode() -> None:
    state, _ = feed(FRIDGE, every_minute(0, 10, 9.5))
    restored = load_state(json.loads(json.dumps(dump_state(state))))
    assert restored == state
    _, changes = feed(FRIDGE, every_minute(10, 16, 9.5), restored)
    assert [(m, c.condition.kind) for m, c in changes] == [(15, ConditionKind.TOO_WARM)]


def test_a_clock_stepping_back_restarts_a_pending_episode() -> None:
    samples = every_minute(0, 10, 9.5) + [(m - 60, 9.5) for m in range(14)]
    _, changes = feed(FRIDGE, samples)
    assert changes == []
