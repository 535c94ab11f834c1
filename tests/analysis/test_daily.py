"""Daily figures merged over a month equal the month folded from raw points (pure)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import fields

import pytest

from analysis.accumulator import SeriesAccumulator
from analysis.daily import FIELDS, MonthFold, day_starts, late_clinics, line_fields
from analysis.doubts import county_doubts
from analysis.metrics import FROZEN, REFRIGERATED, Limits, SeriesStats
from analysis.period import month_bounds
from analysis.report import Place, ProbeFigures, build_report

START, END = month_bounds("2026-10")
MINUTE = 60_000
KEY = ("610103", "6101030201", "F1", "cold", "refrigerated", "P1")


def _readings(seed: int) -> list[tuple[int, float | None, int]]:
    """A month of minute readings: a random walk with warm and cold spells across midnights,
    gaps of minutes to days, fault readings and jittered timestamps."""
    rng = random.Random(seed)
    out: list[tuple[int, float | None, int]] = []
    t, value = START + rng.randrange(3 * MINUTE), 5.0
    while t < END:
        roll = rng.random()
        if roll < 0.0005:
            t += rng.choice([4, 30, 600, 3 * 1440]) * MINUTE
            continue
        if roll < 0.002:
            value = rng.choice([9.5, 12.0, -1.0, 1.0, 5.0])
        value += rng.gauss(0, 0.05)
        if rng.random() < 0.003:
            out.append((t, None, rng.choice([1, 3])))
        else:
            out.append((t, round(value, 2), 0))
        t += MINUTE + rng.randrange(-2_000, 2_000)
    return [p for p in out if p[0] < END]


def _fold(
    readings: Sequence[tuple[int, float | None, int]], limits: Limits, cuts: list[int]
) -> SeriesAccumulator:
    acc = SeriesAccumulator(limits, START, END, cuts=cuts)
    for t, value, status in readings:
        acc.add(t, value, status)
    return acc


def _value(stats: SeriesStats, name: str) -> float | int | None:
    value: float | int | None = getattr(stats, name)
    return value


@pytest.mark.parametrize(("seed", "limits"), [(1, REFRIGERATED), (2, REFRIGERATED), (3, FROZEN)])
def test_days_merged_equal_the_month(seed: int, limits: Limits) -> None:
    readings = _readings(seed)
    month = _fold(readings, limits, []).finish()
    days = _fold(readings, limits, day_starts(START, END)[1:]).periods()
    assert len(days) == 31
    fold = MonthFold(START, END, month.expected)
    for day_ms, stats in days:
        for name in FIELDS:
            fold.add(KEY, name, day_ms, _value(stats, name))
    ((merged, reported),) = fold.months().values()
    assert reported == 31
    assert month.excursions, "the data must exercise runs"
    assert not limits.who or (month.who_heat and month.who_freeze), "and the WHO durations"
    for item in fields(SeriesStats):
        expected, got = getattr(month, item.name), getattr(merged, item.name)
        if isinstance(expected, float):
            assert got == pytest.approx(expected, rel=1e-12), item.name
        else:
            assert got == expected, item.name


def test_a_run_across_midnight_counts_once_on_the_day_it_began() -> None:
    midnight = day_starts(START, END)[1]
    readings = [(midnight - 30 * MINUTE + i * MINUTE, 9.0, 0) for i in range(61)]
    days = dict(_fold(readings, REFRIGERATED, [midnight]).periods())
    assert (days[START].excursions_above, days[midnight].excursions_above) == (1, 0)
    assert days[START].above_ms == 30 * MINUTE
    assert days[midnight].above_ms == 31 * MINUTE


def test_a_day_without_a_report_is_a_day_without_data() -> None:
    fold = MonthFold(START, END, 44_640)
    fold.add(KEY, "ok", START, 1440)
    fold.add(KEY, "expected", START, 1440)
    fold.probe((*KEY[:5], "P2"))
    months = fold.months()
    assert months[KEY][0].expected == 44_640
    assert months[KEY][1] == 1
    assert late_clinics(months, 31) == [("6101030201", 31)]


def test_a_day_as_line_protocol_fields() -> None:
    stats = SeriesStats(expected=1440, ok=2, min_c=3.5, min_at=START, sum_c=7.25)
    text = line_fields(stats)
    assert text.startswith("expected=1440i,ok=2i,")
    assert "min_c=3.5,min_at=" in text
    assert "max_c" not in text


def test_the_doubts_name_clinics_without_data_late_or_mostly_unsynchronised() -> None:
    def probe(unit: str, ok: int, unsynced: int) -> ProbeFigures:
        stats = SeriesStats(expected=44_640, ok=ok, unsynced=unsynced)
        return ProbeFigures(Place("610103", unit, "F1", "冷藏室", "refrigerated"), "P1", stats)

    report = build_report(
        [probe("A", 44_000, 0), probe("B", 0, 0), probe("C", 44_000, 30_000), probe("D", 9, 4)],
        [], title="t", month="2026-10", scope="", start_ms=START, end_ms=END, interval_s=60,
    )  # fmt: skip
    report.late = [("A", 3)]
    assert county_doubts(report) == [
        "本月无数据的单位：B",
        "有几天没有上报每日数据的单位（网关离线或迟报）：A（3 天）",
        "多数读数采集时网关时钟未同步的单位：C",
    ]
