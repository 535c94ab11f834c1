"""The pure rules: calibration tolerance at its edges, the 6-hour rule for any pair of times,
and reminders counted from when the gateway started keeping the record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.checks.calibration import CalibrationRefusedError, judge, window_for
from gateway.checks.manual_readings import (
    HalfDay,
    ManualReading,
    ManualReadingRefusedError,
    check_entry,
    half_of,
    missing,
)
from gateway.core.compartments import CompartmentKind
from gateway.storage.readings import StoredReading
from probes.reading import ProbeStatus, Reading

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # 08:00 in China


def stored(seq: int, value: float, seconds: float = 0.0) -> StoredReading:
    return StoredReading(seq, Reading("P1", T0 + timedelta(seconds=seconds), ProbeStatus.OK, value))


@pytest.mark.parametrize(
    ("kind", "probe_c", "passed"),
    [
        (CompartmentKind.REFRIGERATED, 4.5, True),
        (CompartmentKind.REFRIGERATED, 3.5, True),
        (CompartmentKind.REFRIGERATED, 4.51, False),
        (CompartmentKind.REFRIGERATED, 3.49, False),
        (CompartmentKind.FROZEN, 5.0, True),
        (CompartmentKind.FROZEN, 5.01, False),
    ],
)
def test_tolerance_edges(kind: CompartmentKind, probe_c: float, passed: bool) -> None:
    verdict = judge(
        "P1", kind, 4.0, at=T0, readings=[stored(1, probe_c)], window=timedelta(minutes=5)
    )
    assert verdict.passed is passed


def test_the_nearest_reading_is_compared_and_the_window_grows_with_the_interval() -> None:
    readings = [stored(1, 9.0, -200), stored(2, 4.2, 40), stored(3, 7.0, -60)]
    verdict = judge(
        "P1", CompartmentKind.REFRIGERATED, 4.0, at=T0, readings=readings, window=window_for(30)
    )
    assert (verdict.probe_seq, verdict.difference_c) == (2, 0.2)
    assert window_for(600) == timedelta(minutes=20)
    with pytest.raises(CalibrationRefusedError, match="no reading within 5 min"):
        judge(
            "P1",
            CompartmentKind.REFRIGERATED,
            4.0,
            at=T0 + timedelta(hours=1),
            readings=readings,
            window=window_for(30),
        )


def record(taken_at: datetime, compartment: str = "F1/冷藏") -> ManualReading:
    day, half = half_of(taken_at)
    return ManualReading(compartment, day, half, taken_at, 4.0, False, "u", "U", taken_at)


@given(
    first=st.integers(min_value=0, max_value=23 * 60),
    gap=st.integers(min_value=1, max_value=24 * 60),
)
def test_two_records_of_a_compartment_less_than_six_hours_apart_never_pass(
    first: int, gap: int
) -> None:
    earlier = T0 - timedelta(hours=8) + timedelta(minutes=first)  # from 00:00 China time
    later = earlier + timedelta(minutes=gap)
    now = later + timedelta(minutes=1)
    try:
        check_entry("F1/冷藏", 4.0, later, now, [record(earlier)])
    except ManualReadingRefusedError:
        accepted = False
    else:
        accepted = True
    assert accepted == (gap >= 6 * 60 and half_of(earlier) != half_of(later))
    check_entry("F1/冷冻", 4.0, later, now, [record(earlier)])  # another compartment: no bar


def test_missing_counts_only_due_times_after_the_start() -> None:
    started = T0 + timedelta(hours=4)  # 12:00 China time: the morning was before us
    now = T0 + timedelta(days=1, hours=4)  # the next day, 12:00
    gaps = missing([("A", (T0 + timedelta(days=1)).date(), HalfDay.MORNING)], ["A"], started, now)
    assert [(item.day.day, item.half) for item in gaps] == [(2, HalfDay.AFTERNOON)]
