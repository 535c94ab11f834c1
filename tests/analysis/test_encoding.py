"""Pure encodings: the alarm fold, series keys, range files, months, progress."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analysis.alarm_events import AlarmEvent, fold_alarms, latency_bucket
from analysis.county import parse_series_key
from analysis.errors import RangeFileError, ReportError
from analysis.metrics import REFRIGERATED, Limits
from analysis.period import month_bounds
from analysis.progress import Progress
from analysis.ranges import limits_for, load_ranges
from gateway.core.clinic_time import previous_month


def test_fold_alarms_first_ack_and_tiers() -> None:
    def event(t: int, kind: str, alarm: str = "a", tier: int | None = None) -> AlarmEvent:
        return AlarmEvent(t, alarm, kind, "too_warm", "u", "r", "F1", "冷藏", tier)

    facts = fold_alarms(
        [
            event(100 * 60_000, "acknowledged"),
            event(0, "opened"),
            event(31 * 60_000, "acknowledged"),
            event(30 * 60_000, "tier_notified", tier=2),
            event(-5, "opened", alarm="old"),
        ],
        0,
        10**9,
    )
    assert len(facts) == 1
    assert facts[0].ack_latency_min == 31
    assert facts[0].tiers == {2}


@pytest.mark.parametrize(
    ("minutes", "bucket"),
    [(0, "≤30"), (30, "≤30"), (30.01, "30–60"), (60, "30–60"), (120, "60–120"), (121, ">120")],
)
def test_latency_buckets(minutes: float, bucket: str) -> None:
    assert latency_bucket(minutes) == bucket
    assert latency_bucket(None) == "未确认"


def test_parse_series_key_with_escapes() -> None:
    key = r"coldchain,compartment=冷藏\ A,fridge=F\,1,unit=6101030201"
    assert parse_series_key(key) == {"compartment": "冷藏 A", "fridge": "F,1", "unit": "6101030201"}


def test_month_bounds_local_time() -> None:
    start, end = month_bounds("2026-12")
    assert datetime.fromtimestamp(start / 1000, UTC) == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert datetime.fromtimestamp(end / 1000, UTC) == datetime(2026, 12, 31, 16, tzinfo=UTC)
    with pytest.raises(ReportError, match="YYYY-MM"):
        month_bounds("2026-1")
    assert previous_month(datetime(2026, 11, 1, 0, 30, tzinfo=UTC)) == "2026-10"
    assert previous_month(datetime(2026, 12, 31, 17, tzinfo=UTC)) == "2026-12"  # Jan 1 local


def test_range_files(tmp_path: Path) -> None:
    csv_file = tmp_path / "ranges.csv"
    csv_file.write_text(
        "unit,fridge,compartment,min_c,max_c\n6101030201,F1,冷冻,,-20\n", encoding="utf-8"
    )
    ranges = load_ranges(csv_file)
    assert limits_for("6101030201", "F1", "冷冻", "frozen", ranges) == Limits(None, -20.0)
    assert limits_for("6101030201", "F1", "冷藏", "refrigerated", ranges) == REFRIGERATED
    toml_file = tmp_path / "ranges.toml"
    toml_file.write_text(
        '[[range]]\nunit = "u"\nfridge = "F"\ncompartment = "c"\nmin_c = 2\nmax_c = 6\n',
        encoding="utf-8",
    )
    assert load_ranges(toml_file) == {("u", "F", "c"): (2.0, 6.0)}
    bad = tmp_path / "bad.csv"
    bad.write_text("unit,fridge,compartment,min_c,max_c\nu,F,c,8,2\n", encoding="utf-8")
    with pytest.raises(RangeFileError, match=r"line 2: min_c 8\.0 must be below max_c 2\.0"):
        load_ranges(bad)
    (tmp_path / "h.csv").write_text("unit,fridge\n", encoding="utf-8")
    with pytest.raises(RangeFileError, match="missing column"):
        load_ranges(tmp_path / "h.csv")


def test_progress_plain_lines_when_not_a_tty() -> None:
    stream = io.StringIO()
    progress = Progress(20, "月报", stream)
    for _ in range(20):
        progress.update(1, "day")
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("月报: 100% (20/20")
    assert len(lines) == 11  # one per 10 %
    assert "\r" not in stream.getvalue()
