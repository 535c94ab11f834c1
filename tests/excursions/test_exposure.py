"""The exposure arithmetic: known figures, and properties over any readings (hypothesis)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.exposure import (
    DELTA_H_OVER_R_K,
    Sample,
    exposure,
    mean_kinetic_temperature,
    worst,
)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
temperatures = st.floats(min_value=-40.0, max_value=60.0, allow_nan=False)
series = st.lists(st.tuples(st.integers(0, 600), temperatures), min_size=1, max_size=60)


def samples_of(points: list[tuple[int, float]]) -> list[Sample]:
    return [Sample(T0 + timedelta(minutes=m), t) for m, t in points]


def test_the_constant_is_83_144_kj_per_mol_over_r() -> None:
    assert pytest.approx(10_000.0) == DELTA_H_OVER_R_K


def test_known_excursion() -> None:
    # 5 °C for 10 min, 12 °C for 30 min, 1 °C for 20 min, back at 5 °C at 60 min.
    samples = samples_of([(0, 5.0), (10, 12.0), (40, 1.0), (60, 5.0)])
    found = exposure(samples, 2.0, 8.0, T0, T0 + timedelta(minutes=60))
    assert found.minutes_above == pytest.approx(30)
    assert found.minutes_below == pytest.approx(20)
    assert found.degree_minutes_above == pytest.approx(4 * 30)
    assert found.degree_minutes_below == pytest.approx(1 * 20)
    assert (found.peak_c, found.trough_c) == (12.0, 1.0)
    # Haynes: 10,000 / -ln(mean of exp(-10,000/T)) with weights 10, 30, 20.
    kelvin = [278.15, 285.15, 274.15]
    weights = [10, 30, 20]
    mean = sum(w * math.exp(-10_000 / k) for k, w in zip(kelvin, weights, strict=True)) / 60
    assert found.mkt_c == pytest.approx(10_000 / -math.log(mean) - 273.15)
    assert found.mkt_c is not None
    assert found.mkt_c > (5 * 10 + 12 * 30 + 1 * 20) / 60  # MKT weighs heat more than the mean


def test_window_cuts_samples_and_earlier_level_holds_at_start() -> None:
    samples = samples_of([(0, 10.0), (30, 5.0)])
    found = exposure(samples, 2.0, 8.0, T0 + timedelta(minutes=20), T0 + timedelta(minutes=40))
    assert found.minutes_above == pytest.approx(10)
    assert found.samples == 2


def test_no_readings_and_reversed_window() -> None:
    empty = exposure([], 2.0, 8.0, T0, T0 + timedelta(hours=1))
    assert (empty.minutes_above, empty.peak_c, empty.mkt_c) == (0.0, None, None)
    with pytest.raises(ValueError, match="before it starts"):
        exposure([], 2.0, 8.0, T0, T0 - timedelta(seconds=1))
    with pytest.raises(ValueError, match="at least one"):
        mean_kinetic_temperature([], [])


@given(series)
def test_mkt_lies_between_min_and_max_and_above_the_mean(points: list[tuple[int, float]]) -> None:
    found = exposure(samples_of(points), 2.0, 8.0, T0, T0 + timedelta(minutes=600))
    assert found.mkt_c is not None
    assert found.peak_c is not None
    assert found.trough_c is not None
    assert found.trough_c - 1e-6 <= found.mkt_c <= found.peak_c + 1e-6


@given(st.lists(temperatures, min_size=1, max_size=30), st.lists(st.floats(0.1, 100), min_size=30))
def test_mkt_is_at_least_the_weighted_mean(celsius: list[float], weights: list[float]) -> None:
    used = weights[: len(celsius)]
    mean = sum(t * w for t, w in zip(celsius, used, strict=True)) / sum(used)
    assert mean_kinetic_temperature(celsius, used) >= mean - 1e-6


@given(st.lists(st.tuples(st.integers(0, 600), st.floats(2.0, 8.0)), min_size=1, max_size=60))
def test_in_range_means_no_minutes_and_no_degree_minutes(points: list[tuple[int, float]]) -> None:
    found = exposure(samples_of(points), 2.0, 8.0, T0, T0 + timedelta(minutes=600))
    assert found.minutes_above == found.minutes_below == 0
    assert found.degree_minutes_above == found.degree_minutes_below == 0


@given(series, st.integers(0, 600), st.integers(0, 600))
def test_minutes_never_exceed_the_window(points: list[tuple[int, float]], a: int, b: int) -> None:
    start, end = T0 + timedelta(minutes=min(a, b)), T0 + timedelta(minutes=max(a, b))
    found = exposure(samples_of(points), 2.0, 8.0, start, end)
    assert 0 <= found.minutes_above + found.minutes_below <= max(a, b) - min(a, b) + 1e-9
    assert found.degree_minutes_above >= 0
    assert found.degree_minutes_below >= 0


@given(series, series)
def test_worst_takes_each_figure_at_its_worst(
    one: list[tuple[int, float]], two: list[tuple[int, float]]
) -> None:
    end = T0 + timedelta(minutes=600)
    a, b = (exposure(samples_of(p), 2.0, 8.0, T0, end) for p in (one, two))
    both = worst([a, b])
    assert both.minutes_above == max(a.minutes_above, b.minutes_above)
    assert both.trough_c == min(x for x in (a.trough_c, b.trough_c) if x is not None)
