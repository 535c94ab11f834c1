"""Pure metric tests: MKT by hand, sample-and-hold minutes, WHO rules at their exact edges."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from analysis.accumulator import SeriesAccumulator, series_stats
from analysis.metrics import (
    FROZEN,
    MINUTE_MS,
    REFRIGERATED,
    Limits,
    SeriesStats,
    mean_kinetic_temperature,
    merge_all,
)

HOUR = 60 * MINUTE_MS
DAY = 24 * HOUR


def test_mkt_of_5_and_25_degrees_by_hand() -> None:
    # T1 = 5 °C = 278.15 K:  ΔH/(R·T1) = 10000 / 278.15 = 35.951825 -> exp(-35.951825) = 2.4340e-16
    # T2 = 25 °C = 298.15 K: ΔH/(R·T2) = 10000 / 298.15 = 33.540164 -> exp(-33.540164) = 2.7145e-15
    # mean of the two terms = (2.4340e-16 + 2.7145e-15) / 2 = 1.47896e-15
    # ln(1.47896e-15) = -34.147440  ->  MKT = 10000 / 34.147440 = 292.8477 K = 19.6977 °C
    mkt = mean_kinetic_temperature([(5.0, 1.0), (25.0, 1.0)])
    assert mkt == pytest.approx(19.6977, abs=1e-4)
    # Above the arithmetic mean (15 °C): MKT weighs the warm period more.
    assert mkt > 15.0


def test_mkt_time_weighted_from_held_readings() -> None:
    # 5 °C held 15 min, 9 °C held 5 min (5-min sampling, 4 readings: 5, 5, 5, 9).
    # exp(-10000/278.15) = 2.43400e-16, exp(-10000/282.15) = 4.05204e-16
    # weighted mean = (3·2.43400e-16 + 1·4.05204e-16) / 4 = 2.83851e-16
    # ln(2.83851e-16) = -35.798082 -> MKT = 10000/35.798082 - 273.15 = 6.1946 °C
    start = 0
    points = [(i * 5 * MINUTE_MS, t, 0) for i, t in enumerate([5.0, 5.0, 5.0, 9.0])]
    stats = series_stats(points, REFRIGERATED, start, 20 * MINUTE_MS, interval_ms=5 * MINUTE_MS)
    assert stats.mkt_c == pytest.approx(6.1946, abs=1e-4)
    assert stats.mean_c == pytest.approx(6.0)
    assert stats.minutes_above == 5
    assert stats.excursions_above == 1
    assert stats.completeness == 100.0


def test_mkt_of_constant_temperature_is_that_temperature() -> None:
    assert mean_kinetic_temperature([(4.0, 3.0)]) == pytest.approx(4.0, abs=1e-9)
    with pytest.raises(ValueError, match="no samples"):
        mean_kinetic_temperature([])


def test_excursion_minutes_sample_and_hold_over_gaps() -> None:
    interval = MINUTE_MS
    # 0..9 in range, 10..14 at 9 °C (5 readings), gap of 20 min, 35..39 at 9 °C, 40..59 in range
    points = [(m * interval, 5.0, 0) for m in range(10)]
    points += [(m * interval, 9.0, 0) for m in range(10, 15)]
    points += [(m * interval, 9.0, 0) for m in range(35, 40)]
    points += [(m * interval, 1.0, 0) for m in range(40, 45)]  # below 2 °C
    points += [(m * interval, 5.0, 0) for m in range(45, 60)]
    stats = series_stats(points, REFRIGERATED, 0, 60 * interval)
    # minute 14 is followed by a 21-minute gap (> 3 min max gap): it holds one interval only
    assert stats.minutes_above == 5 + 5
    assert stats.minutes_below == 5
    assert stats.excursions_above == 2  # the gap splits the run
    assert stats.excursions_below == 1
    assert stats.ok == 40
    assert stats.expected == 60
    assert stats.completeness == pytest.approx(100 * 40 / 60)
    assert stats.covered_ms == 40 * interval
    assert (stats.max_c, stats.max_at) == (9.0, 10 * interval)  # first time of the max
    assert (stats.min_c, stats.min_at) == (1.0, 40 * interval)


def test_fault_readings_break_runs_and_hold_nothing() -> None:
    points = [(0, 9.0, 0), (MINUTE_MS, None, 1), (2 * MINUTE_MS, 9.0, 0)]
    stats = series_stats(points, REFRIGERATED, 0, 3 * MINUTE_MS)
    assert stats.excursions_above == 2
    assert stats.minutes_above == 2
    assert stats.faults == 1


def test_limit_values_are_in_range() -> None:
    stats = series_stats([(0, 8.0, 0), (MINUTE_MS, 2.0, 0)], REFRIGERATED, 0, 2 * MINUTE_MS)
    assert stats.excursions == 0
    assert stats.minutes_above == stats.minutes_below == 0


def test_frozen_has_no_lower_limit_and_no_who_rules() -> None:
    points = [(m * MINUTE_MS, -40.0, 0) for m in range(120)]
    stats = series_stats(points, FROZEN, 0, 120 * MINUTE_MS)
    assert stats.excursions == 0
    assert stats.who_freeze == 0


def test_no_data_is_zero_percent_not_perfect() -> None:
    stats = series_stats([], REFRIGERATED, 0, DAY)
    assert not stats.has_data
    assert stats.completeness == 0.0
    assert stats.mean_c is None
    assert stats.mkt_c is None


def test_clock_shifted_and_duplicate_points_are_ignored() -> None:
    points = [(-5 * DAY, 30.0, 0), (0, 5.0, 0), (0, 9.0, 0), (MINUTE_MS, 5.0, 0), (DAY, 30.0, 0)]
    stats = series_stats(points, REFRIGERATED, 0, 2 * MINUTE_MS)
    assert stats.outside_period == 3
    assert stats.ok == 2
    assert stats.max_c == 5.0


def _run(value: float, readings: int, interval: int = MINUTE_MS) -> SeriesStats:
    lead = [(m * interval, 5.0, 0) for m in range(5)]
    run = [((5 + m) * interval, value, 0) for m in range(readings)]
    tail = [((5 + readings + m) * interval, 5.0, 0) for m in range(5)]
    end = (10 + readings) * interval
    return series_stats(lead + run + tail, REFRIGERATED, 0, end, interval_ms=interval)


def test_who_heat_exactly_10_hours_inclusive() -> None:
    # 601 minute readings at exactly +8.0 °C: first to last spans 600 min = 10 h -> alarm
    assert _run(8.0, 601).who_heat == 1
    # one sample short: 600 readings span 9 h 59 min -> no alarm
    assert _run(8.0, 600).who_heat == 0
    # 8.0 °C is inside the 2-8 range: no excursion, yet the WHO heat alarm (inclusive)
    assert _run(8.0, 601).excursions == 0
    assert _run(7.99, 2000).who_heat == 0


def test_who_freeze_exactly_60_minutes_inclusive() -> None:
    assert _run(-0.5, 61).who_freeze == 1  # spans exactly 60 min
    assert _run(-0.5, 60).who_freeze == 0  # one sample short: 59 min
    assert _run(-0.49, 500).who_freeze == 0
    # a 5-minute recorder: 13 readings span 60 min
    assert _run(-3.0, 13, 5 * MINUTE_MS).who_freeze == 1
    assert _run(-3.0, 12, 5 * MINUTE_MS).who_freeze == 0


def test_who_run_broken_by_gap_restarts() -> None:
    run = [(m * MINUTE_MS, 9.0, 0) for m in range(400)]
    run += [(m * MINUTE_MS, 9.0, 0) for m in range(410, 700)]  # a 10-min gap after 399
    stats = series_stats(run, REFRIGERATED, 0, DAY)
    assert stats.who_heat == 0
    assert stats.excursions_above == 2


def test_one_who_alarm_per_run() -> None:
    assert _run(9.0, 1500).who_heat == 1


def test_merge_adds_and_keeps_extremes() -> None:
    a = series_stats([(0, 5.0, 0), (MINUTE_MS, 9.0, 0)], REFRIGERATED, 0, 2 * MINUTE_MS)
    b = series_stats([(0, 1.0, 0)], REFRIGERATED, 0, 2 * MINUTE_MS)
    merged = merge_all([a, b])
    assert merged.probes == 2
    assert merged.ok == 3
    assert merged.expected == 4
    assert (merged.min_c, merged.max_c) == (1.0, 9.0)
    assert merged.mean_c == pytest.approx(5.0)
    expected = mean_kinetic_temperature([(5.0, 1), (9.0, 1), (1.0, 1)])
    assert merged.mkt_c == pytest.approx(expected, abs=1e-9)
    assert merge_all([]).probes == 0


def test_override_limits() -> None:
    strict = Limits(-25.0, -20.0)
    stats = series_stats([(0, -18.0, 0)], strict, 0, MINUTE_MS)
    assert stats.excursions_above == 1
    assert math.isclose(stats.minutes_above, 1.0)


_RUN = st.tuples(
    st.one_of(st.integers(1, 4), st.integers(50, 700)),  # readings in the run
    st.sampled_from([1] * 6 + [2, 0, -3, 4, 11]),  # minutes apart: duplicates, disorder, gaps
    st.one_of(
        st.none(),
        st.sampled_from([-25.0, -1.0, -0.5, 1.9, 2.0, 5.0, 8.0, 8.1, 30.0, math.nan]),
    ),
    st.sampled_from([None] * 6 + [0, 1, 4]),  # status
    st.sampled_from([None] * 6 + [1, 0]),  # clock_synced
)
_WARM, _COLD = 9.0, -1.0


@given(st.lists(_RUN, max_size=12), st.sampled_from([REFRIGERATED, FROZEN, Limits(None, None)]))
@example([(40, 1, _COLD, None, None), (1, 1, 5.0, None, None), (30, 1, _COLD, 0, 1)], REFRIGERATED)
@example(
    [(400, 1, _WARM, None, None), (1, 1, 5.0, None, None), (300, 1, _WARM, 0, 1)], REFRIGERATED
)
@settings(max_examples=300)
def test_add_rows_folds_exactly_as_add(
    runs: list[tuple[int, int, float | None, int | None, int | None]],
    limits: Limits,
) -> None:
    """The inlined fast path gives the same figures, to the last bit, per period (runs long
    enough for the WHO durations, across the cuts)."""
    start, end = 0, 14 * HOUR
    cuts = [3 * HOUR, 6 * HOUR, 6 * HOUR + 5 * MINUTE_MS, 11 * HOUR]
    rows, t = [], -10 * MINUTE_MS
    for count, minutes, temperature, status, synced in runs:
        for _ in range(count):
            t += minutes * MINUTE_MS
            rows.append([t, temperature, status, synced])
    one = SeriesAccumulator(limits, start, end, MINUTE_MS, cuts=cuts)
    for t, temperature, status, synced in rows:
        one.add(t, temperature, 0 if status is None else status, synced=synced != 0)
    batched = SeriesAccumulator(limits, start, end, MINUTE_MS, cuts=cuts)
    half = len(rows) // 2
    batched.add_rows(rows[:half])
    batched.add_rows(rows[half:])
    assert repr(batched.periods()) == repr(one.periods())
    assert repr(batched.finish()) == repr(one.finish())
