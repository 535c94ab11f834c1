"""Scenarios are pure functions of time, kind and seed: properties over the whole input space."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_sim.scenarios import (
    SCENARIOS,
    CompressorFailure,
    DoorOpening,
    FlakyBus,
    PowerCut,
    ProbeDisconnected,
    Sample,
    Steady,
    ThermostatFault,
    baseline,
    build_scenario,
)
from gateway.core.compartments import CompartmentKind

REFRIGERATED = CompartmentKind.REFRIGERATED
FROZEN = CompartmentKind.FROZEN
HOUR = 3600.0
UPPER = {REFRIGERATED: 8.0, FROZEN: -15.0}

seeds = st.integers(min_value=0, max_value=2**31)
times = st.floats(min_value=0.0, max_value=14 * 24 * HOUR, allow_nan=False)
kinds = st.sampled_from(list(CompartmentKind))


def temperature(sample: Sample) -> float:
    assert sample.temperature is not None
    return sample.temperature


@given(seed=seeds, elapsed=times)
def test_steady_refrigerator_stays_within_2_to_8(seed: int, elapsed: float) -> None:
    sample = Steady(seed=seed).sample(elapsed, REFRIGERATED)
    assert 3.5 <= temperature(sample) <= 6.0
    assert not sample.silent
    assert sample.drop_probability == 0.0


@given(seed=seeds, elapsed=times)
def test_steady_freezer_stays_colder_than_minus_15(seed: int, elapsed: float) -> None:
    assert -22.0 <= temperature(Steady(seed=seed).sample(elapsed, FROZEN)) <= -18.0


def test_steady_refrigerator_oscillates_with_the_compressor() -> None:
    values = [temperature(Steady().sample(minute * 60.0, REFRIGERATED)) for minute in range(40)]
    assert max(values) - min(values) > 2.0


@given(seed=seeds, kind=kinds, onset=st.floats(0, 24 * HOUR), a=times, b=times)
def test_compressor_failure_never_cools_after_onset(
    seed: int, kind: CompartmentKind, onset: float, a: float, b: float
) -> None:
    scenario = CompressorFailure(seed=seed, onset_s=onset)
    early, late = sorted((onset + a, onset + b))
    assert temperature(scenario.sample(early, kind)) <= temperature(scenario.sample(late, kind))


@given(seed=seeds, onset=st.floats(0, 24 * HOUR))
def test_compressor_failure_passes_8_degrees_between_30_and_45_minutes(
    seed: int, onset: float
) -> None:
    scenario = CompressorFailure(seed=seed, onset_s=onset)
    assert temperature(scenario.sample(onset + 30 * 60, REFRIGERATED)) < 8.0
    assert temperature(scenario.sample(onset + 45 * 60, REFRIGERATED)) > 8.0
    assert temperature(scenario.sample(onset + 48 * HOUR, REFRIGERATED)) == pytest.approx(
        25.0, abs=0.5
    )


@given(seed=seeds, onset=st.floats(0, 24 * HOUR))
def test_compressor_failure_starts_where_the_cycle_was(seed: int, onset: float) -> None:
    scenario = CompressorFailure(seed=seed, onset_s=onset)
    at_onset = temperature(scenario.sample(onset, REFRIGERATED))
    assert at_onset == pytest.approx(temperature(baseline(REFRIGERATED, onset, seed)))
    assert temperature(scenario.sample(onset + 1.0, REFRIGERATED)) - at_onset < 0.01


def test_compressor_failure_warms_a_freezer_past_minus_15_at_the_crossing_time() -> None:
    scenario = CompressorFailure(onset_s=0.0, crossing_s=HOUR)
    assert temperature(scenario.sample(HOUR - 60, FROZEN)) < -15.0
    assert temperature(scenario.sample(HOUR + 60, FROZEN)) > -15.0


@given(seed=seeds, onset=st.floats(0, 24 * HOUR))
def test_thermostat_fault_freezes_a_refrigerator(seed: int, onset: float) -> None:
    scenario = ThermostatFault(seed=seed, onset_s=onset)
    assert temperature(scenario.sample(onset + 2 * HOUR, REFRIGERATED)) < 0.0
    assert temperature(scenario.sample(onset + 30 * HOUR, REFRIGERATED)) >= -4.0


@given(seed=seeds, kind=kinds, elapsed=times)
def test_door_openings_peak_less_than_two_degrees_above_the_limit(
    seed: int, kind: CompartmentKind, elapsed: float
) -> None:
    sample = temperature(DoorOpening(seed=seed).sample(elapsed, kind))
    assert sample >= temperature(baseline(kind, elapsed, seed))
    assert sample <= UPPER[kind] + 1.5 * 1.2 + 0.01


@given(seed=seeds, kind=kinds)
def test_every_door_opening_crosses_the_limit_for_less_than_the_hold_off(
    seed: int, kind: CompartmentKind
) -> None:
    """Above the upper limit for a minute or more, and for well under the 15 min hold-off."""
    scenario = DoorOpening(seed=seed)
    for opening in range(3):
        start = scenario.first_s + opening * scenario.interval_s
        seconds = range(0, int(scenario.interval_s), 10)
        above = [
            temperature(scenario.sample(start + second, kind)) > UPPER[kind] for second in seconds
        ]
        assert 60 <= 10 * sum(above) <= 5 * 60
        spike = temperature(scenario.sample(start + scenario.interval_s - 1, kind)) - temperature(
            baseline(kind, start + scenario.interval_s - 1, seed)
        )
        assert spike < 0.1, "the spike decays before the next opening"


@given(seed=seeds, kind=kinds, elapsed=times)
def test_power_cut_silences_the_device_only_during_the_cut(
    seed: int, kind: CompartmentKind, elapsed: float
) -> None:
    scenario = PowerCut(seed=seed, onset_s=HOUR, duration_s=2 * HOUR)
    assert scenario.sample(elapsed, kind).silent == (HOUR <= elapsed < 3 * HOUR)


@given(seed=seeds)
def test_power_cut_warms_the_compartment_then_it_cools_back(seed: int) -> None:
    scenario = PowerCut(seed=seed, onset_s=HOUR, duration_s=2 * HOUR)
    before = temperature(scenario.sample(HOUR, REFRIGERATED))
    restored = temperature(scenario.sample(3 * HOUR, REFRIGERATED))
    assert restored > 8.0 > before
    assert not scenario.sample(3 * HOUR, REFRIGERATED).silent
    later = 6 * HOUR
    assert temperature(scenario.sample(later, REFRIGERATED)) == pytest.approx(
        temperature(baseline(REFRIGERATED, later, seed)), abs=0.1
    )


@given(seed=seeds, kind=kinds, elapsed=times)
def test_a_disconnected_probe_has_no_temperature_but_the_device_answers(
    seed: int, kind: CompartmentKind, elapsed: float
) -> None:
    sample = ProbeDisconnected(seed=seed, onset_s=HOUR).sample(elapsed, kind)
    assert sample.disconnected == (elapsed >= HOUR)
    assert not sample.silent


@given(seed=seeds, elapsed=times)
def test_flaky_bus_keeps_the_temperature_and_spoils_the_bus(seed: int, elapsed: float) -> None:
    sample = FlakyBus(seed=seed).sample(elapsed, REFRIGERATED)
    assert sample.temperature == baseline(REFRIGERATED, elapsed, seed).temperature
    assert (sample.drop_probability, sample.corrupt_probability) == (0.2, 0.1)


@given(name=st.sampled_from(sorted(SCENARIOS)), seed=seeds, kind=kinds, elapsed=times)
def test_same_seed_same_story(name: str, seed: int, kind: CompartmentKind, elapsed: float) -> None:
    first = build_scenario(name, seed=seed).sample(elapsed, kind)
    assert build_scenario(name, seed=seed).sample(elapsed, kind) == first


def test_seeds_shift_the_compressor_cycle() -> None:
    phases = {
        round(temperature(Steady(seed=seed).sample(0.0, REFRIGERATED)), 3) for seed in range(10)
    }
    assert len(phases) > 5


def test_the_registry_names_every_scenario_of_the_brief() -> None:
    assert set(SCENARIOS) == {
        "steady",
        "door-opening",
        "compressor-failure",
        "power-cut",
        "thermostat-fault",
        "probe-disconnected",
        "flaky-bus",
    }
    for name, scenario in SCENARIOS.items():
        assert build_scenario(name).name == name
        assert isinstance(build_scenario(name), scenario)


def test_build_scenario_overrides_parameters() -> None:
    scenario = build_scenario("power-cut", seed=4, onset_s=0, duration_s=60)
    assert scenario == PowerCut(seed=4, onset_s=0.0, duration_s=60.0)


def test_an_unknown_scenario_is_refused_with_the_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'meltdown': use one of steady, door"):
        build_scenario("meltdown")


def test_an_unknown_parameter_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="no parameter onset: use ambient_c, crossing_s, onset_s"):
        build_scenario("compressor-failure", onset=5)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("flaky-bus", {"drop_probability": 1.5}, "drop_probability is a probability"),
        ("power-cut", {"duration_s": 0}, "duration_s must be positive"),
        ("door-opening", {"jitter_s": 3 * HOUR}, "jitter_s must be from 0 to below interval_s"),
        ("compressor-failure", {"ambient_c": 5.0}, "ambient_c must be above 8.0"),
    ],
)
def test_nonsense_parameters_are_refused(name: str, params: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_scenario(name, **params)


def test_scenarios_are_frozen() -> None:
    scenario = Steady()
    with pytest.raises(AttributeError):
        scenario.seed = 3  # type: ignore[misc]
