"""Daily figures side by side with raw points: two gateways' simulated October through the real
forwarders into influxd and VictoriaMetrics, and the county report from each path.

The month has excursions and WHO durations across midnight, gaps, fault readings, a gateway
offline for days and readings whose time a clock correction moved (after the first daily
figures were sent: the lane resends the day it changed, and only that day).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from analysis import victoria
from analysis.alarm_events import fold_alarms
from analysis.county import (
    ACK_GRACE_MS,
    CountyOptions,
    county_daily_report,
    county_report,
    daily_report,
)
from analysis.influxql import InfluxQL
from analysis.metrics import DEFAULT_LIMITS, SeriesStats
from analysis.period import month_bounds
from analysis.report import ManualRecords, Report
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import FakeClock, SystemClock
from gateway.forward.alarm_events import AlarmEvent, alarm_event_line
from gateway.forward.daily_figures import (
    Daily,
    DailyFiguresLane,
    DayFigures,
    ManualDay,
    daily_lines,
    limits_from,
    month_of,
)
from gateway.forward.errors import RetryableError
from gateway.forward.influx import make_sink, open_influx_forwarder
from gateway.forward.line_protocol import LineEncoder
from gateway.forward.settings import InfluxSettings
from gateway.forward.tags import Identity, ProbeTags
from gateway.reports.cli import add_report_parser, run_report
from gateway.storage.readings import ReadingStore, from_millis
from probes.reading import ProbeStatus, Reading
from tests.forward.support import wait_until
from tests.servers import Influxd, VictoriaMetrics

pytestmark = pytest.mark.asyncio

MONTH = "2026-10"
START, END = month_bounds(MONTH)
STEP = 300_000
INTERVAL_S = 300.0
FAST = {"retry_initial_s": 0.05, "retry_max_s": 0.3, "idle_poll_s": 0.1}
NORTH = Identity(
    "6101030201",
    "1",
    {"P1": ProbeTags("F1", "冷藏室", "refrigerated"), "P2": ProbeTags("F1", "冷冻室", "frozen")},
    "610103",
)
SOUTH = Identity("6101030202", "2", {"P1": ProbeTags("F1", "冷藏室", "refrigerated")}, "610103")


def at(day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(2026, 10, day, hour, minute, tzinfo=CLINIC_TZ).timestamp() * 1000)


Curve = Callable[[int], float | None]


def _month(
    probe: str, curve: Curve, skip: Callable[[int], bool] = lambda _: False
) -> list[Reading]:
    """A reading every 5 minutes (a few seconds late now and then) where `skip` is false;
    `curve` None: a fault reading."""
    out = []
    for index, t in enumerate(range(START + 7_000, END, STEP)):
        stamp = t + (4_000 if index % 17 == 0 else 0)
        if skip(stamp):
            continue
        value = curve(stamp)
        taken = from_millis(stamp)
        if value is None:
            out.append(Reading(probe, taken, ProbeStatus.DISCONNECTED))
        else:
            out.append(Reading(probe, taken, ProbeStatus.OK, value))
    return out


def _north_fridge(t: int) -> float | None:
    if at(9, 22) <= t < at(10, 11):  # warm across midnight: an excursion and a WHO heat alarm
        return 9.5
    if at(20, 23, 30) <= t < at(21, 1):  # freezing across midnight: WHO freeze
        return -1.0
    if at(12, 3) <= t < at(12, 3, 20):
        return None
    return 4.0 + (t // STEP % 7) / 10


def _north_freezer(t: int) -> float | None:
    return -10.0 if at(25, 23) <= t < at(26, 2) else -20.0 - (t // STEP % 5) / 10


def _gap(t: int) -> bool:
    return at(15, 10) <= t < at(15, 10, 40)


def _offline(t: int) -> bool:
    """The south gateway was off from Oct 3 12:00 to Oct 6 09:00."""
    return at(3, 12) <= t < at(6, 9)


def _south_fridge(t: int) -> float | None:
    return 7.5 + (t // STEP % 9) / 10  # in and out of range all month


def _stores(tmp_path: Path) -> tuple[ReadingStore, ReadingStore, list[tuple[int, datetime]]]:
    """Both gateways' stores; the south one's first hour back was stamped 8 h early by an
    unsynchronised clock: returned as the corrections to apply later."""
    north = ReadingStore(tmp_path / "north.sqlite3")
    north.write_batch(
        sorted(
            _month("P1", _north_fridge, _gap) + _month("P2", _north_freezer),
            key=lambda r: r.taken_at,
        )
    )
    south = ReadingStore(tmp_path / "south.sqlite3")
    back = [r for r in _month("P1", _south_fridge, _offline) if at(6, 9) <= _ms(r) < at(6, 10)]
    south.write_batch([r for r in _month("P1", _south_fridge, _offline) if r not in back])
    shifted = [
        Reading(
            r.probe, r.taken_at - timedelta(hours=8), r.status, r.temperature, clock_synced=False
        )
        for r in back
    ]
    last = south.write_batch(shifted)
    first = last - len(shifted) + 1
    return north, south, [(first + i, r.taken_at) for i, r in enumerate(back)]


def _ms(reading: Reading) -> int:
    return int(reading.taken_at.timestamp() * 1000)


async def _forward_raw(settings: InfluxSettings, store: ReadingStore, identity: Identity) -> None:
    """The readings through the real forwarder until none is left."""
    async with open_influx_forwarder(settings, identity, store, SystemClock()) as pump:
        task = asyncio.create_task(pump.run())
        try:
            await wait_until(lambda: pump.stats().cursor == store.last_seq(), 60)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _lane(
    store: ReadingStore,
    identity: Identity,
    settings: Sequence[InfluxSettings],
    sent: list[DayFigures],
    closing: contextlib.AsyncExitStack,
) -> DailyFiguresLane:
    sinks = [make_sink(s, LineEncoder(identity)) for s in settings]
    for sink in sinks:
        closing.push_async_callback(sink.close)

    async def deliver(days: Sequence[DayFigures]) -> None:
        for sink in sinks:
            await sink.send_body(daily_lines(days, identity))
        sent.extend(days)

    clock = FakeClock(datetime(2026, 11, 1, 8, tzinfo=CLINIC_TZ))
    return DailyFiguresLane(
        "county", store, identity, deliver, clock,
        limits_of=limits_from(identity, DEFAULT_LIMITS), interval_ms=STEP,
    )  # fmt: skip


def _alarm_lines() -> list[str]:
    """Two alarms of the north fridge: the warm one escalated to tier 2 and acknowledged after
    70 minutes, the freezing one never acknowledged."""
    events = [
        (1, "too_warm", "opened", at(9, 22), None, None),
        (1, "too_warm", "tier_notified", at(9, 22), 1, None),
        (1, "too_warm", "tier_notified", at(9, 22, 30), 2, None),
        (1, "too_warm", "acknowledged", at(9, 23, 10), None, "p-li"),
        (1, "too_warm", "cleared", at(10, 11), None, None),
        (2, "too_cold", "opened", at(20, 23, 30), None, None),
    ]
    return [
        alarm_event_line(
            AlarmEvent(
                seq, f"alarm-{number}", condition, event, from_millis(t), "F1", "冷藏室", "P1",
                tier, who, 9.5, number,
            ),
            NORTH,
        )
        for seq, (number, condition, event, t, tier, who) in enumerate(events, 1)
    ]  # fmt: skip


def _assert_same(raw: Report, daily: Report) -> None:
    for level, rows in raw.rows.items():
        other = {row.place: row for row in daily.rows[level]}
        assert set(other) == {row.place for row in rows}, level
        for row in rows:
            mine = other[row.place]
            _assert_same_stats(row.stats, mine.stats, f"{level} {row.place}")
            assert mine.problems == row.problems
            assert mine.alarms == row.alarms
    assert [r.place for r in daily.device_ranking] == [r.place for r in raw.device_ranking]


def _assert_same_stats(expected: SeriesStats, got: SeriesStats, where: str) -> None:
    for item in fields(SeriesStats):
        want, have = getattr(expected, item.name), getattr(got, item.name)
        if isinstance(want, float):
            assert have == pytest.approx(want, rel=1e-9), f"{where}: {item.name}"
        else:
            assert have == want, f"{where}: {item.name}"
    assert got.mkt_c == pytest.approx(expected.mkt_c, abs=1e-9), where


async def test_the_county_report_from_daily_figures_equals_the_raw_points(
    tmp_path: Path, influxd: Influxd, vm: VictoriaMetrics, capsys: pytest.CaptureFixture[str]
) -> None:
    influxd.create_db("coldchain")
    v1 = InfluxSettings.model_validate({"url": influxd.url, "v1_db": "coldchain", **FAST})
    v2 = InfluxSettings.model_validate(
        {"url": vm.url, "bucket": "coldchain", "org": "county", **FAST}
    )
    north, south, corrections = _stores(tmp_path)
    async with contextlib.AsyncExitStack() as closing:
        closing.enter_context(north)
        closing.enter_context(south)
        sent: dict[str, list[DayFigures]] = {"north": [], "south": []}
        lanes = {
            "north": _lane(north, NORTH, [v1, v2], sent["north"], closing),
            "south": _lane(south, SOUTH, [v1, v2], sent["south"], closing),
        }
        for lane in lanes.values():
            await lane.step()
        assert len(sent["north"]) == 2 * 31
        assert len(sent["south"]) == 29, "Oct 4 and 5 had no reading at all"
        await lanes["north"].step()
        assert len(sent["north"]) == 2 * 31, "an unchanged day is not sent again"

        south.correct_times(corrections)
        await lanes["south"].step()
        assert [(d.probe, d.day_ms, d.revision) for d in sent["south"][29:]] == [("P1", at(6), 1)]

        for store, identity in ((north, NORTH), (south, SOUTH)):
            for settings in (v1, v2):
                await _forward_raw(settings, store, identity)
        for settings in (v1, v2):
            sink = make_sink(settings, LineEncoder(NORTH))
            closing.push_async_callback(sink.close)
            await sink.send_body("\n".join(_alarm_lines()).encode())

    options = CountyOptions(MONTH, interval_s=INTERVAL_S)
    async with InfluxQL(influxd.url, "coldchain") as client:
        raw = await county_report(client, options)
        daily = await county_daily_report(client, options)
    north_fridge = next(r for r in raw.rows["compartment"] if r.place.compartment == "冷藏室"
                        and r.place.unit == NORTH.unit)  # fmt: skip
    assert (north_fridge.stats.excursions_above, north_fridge.stats.who_heat) == (1, 1)
    assert (north_fridge.stats.excursions_below, north_fridge.stats.who_freeze) == (1, 1)
    south_fridge = next(r for r in raw.rows["compartment"] if r.place.unit == SOUTH.unit)
    assert 69 * 60 <= south_fridge.stats.minutes_offline < 69 * 60 + 1, "Oct 3 12:00 - Oct 6 09:00"
    assert north_fridge.stats.minutes_fault == 20
    _assert_same(raw, daily)
    assert daily.late == [("6101030202", 2)]
    assert [len(days) for _, days in daily.curves[north_fridge.place.at("fridge")]] == [31, 31]
    assert daily.curves == raw.curves

    assert len(vm.samples("coldchain_daily_ok", at_least=2 * 31 + 30)) == 2 * 31 + 30
    assert len(vm.samples("coldchain_alarm_alarm_no", at_least=6)) == 6
    expected = (END - START) // STEP
    fold = await victoria.fold_daily(vm.url, START, END, expected)
    events = await victoria.alarm_events(vm.url, START, END + ACK_GRACE_MS)
    alarms = fold_alarms(events, START, END)
    from_vm = daily_report(fold, options, alarms, await victoria.exposures(vm.url, START, END))
    assert raw.rows["region"][0].alarms.total == 2
    _assert_same(raw, from_vm)

    written = {}
    for name, source in {
        "raw": ("--influx-url", influxd.url, "--source", "raw"),
        "daily": ("--influx-url", influxd.url),
        "vm": ("--victoria-url", vm.url),
    }.items():
        out = tmp_path / name
        args = _args(*source, "--month", MONTH, "--interval-s", "300", "--out", str(out))
        assert await run_report(args) == 0
        written[name] = {p.name: p.read_bytes() for p in sorted(out.glob("*.csv"))}
    assert written["daily"] == written["raw"], "the same tables, to the last digit shown"
    assert written["vm"] == written["raw"]

    units = tmp_path / "units.csv"
    units.write_text("code,name\n610103,雁塔区\n6101030201,长延堡社区卫生服务中心\n", "utf-8")
    named = tmp_path / "named"
    args = _args("--influx-url", influxd.url, "--month", MONTH, "--interval-s", "300",
                 "--units", str(units), "--out", str(named))  # fmt: skip
    assert await run_report(args) == 0
    with (named / "clinics.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = {row["单位编码"]: row for row in csv.DictReader(handle)}
    assert rows["6101030201"]["单位名称"] == "长延堡社区卫生服务中心"
    assert rows["6101030202"]["单位名称"] == ""
    assert rows["6101030201"]["区域名称"] == "雁塔区"
    html = (named / f"report-{MONTH}.html").read_text("utf-8")
    assert "长延堡社区卫生服务中心（6101030201）" in html
    assert "6101030202：2 天无每日数据" in html

    strict = _args("--influx-url", influxd.url, "--month", MONTH, "--interval-s", "300",
                   "--strict", "--out", str(tmp_path / "strict"))  # fmt: skip
    capsys.readouterr()
    assert await run_report(strict) == 1
    assert "没有上报每日数据的单位（网关离线或迟报）：6101030202（2 天）" in capsys.readouterr().err


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="coldchain")
    add_report_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["report", "monthly", *argv])


async def test_a_refused_day_is_kept_and_sent_at_a_later_step(store: ReadingStore) -> None:
    store.write_batch(_month("P1", _south_fridge)[:300])
    attempts: list[int] = []

    async def deliver(days: Sequence[DayFigures]) -> None:
        attempts.append(len(days))
        if len(attempts) == 1:
            raise RetryableError("county server: 503", retry_after=30.0)

    clock = FakeClock(datetime(2026, 10, 2, 1, tzinfo=CLINIC_TZ))
    lane = DailyFiguresLane(
        "county", store, SOUTH, deliver, clock,
        limits_of=limits_from(SOUTH, DEFAULT_LIMITS), interval_ms=STEP,
    )  # fmt: skip
    assert await lane.step() >= 30.0
    assert lane.last_error == "county server: 503"
    assert await lane.step() > 0
    assert (attempts, lane.sent, lane.last_error) == ([1, 1], 1, None)
    assert await lane.step() > 0
    assert attempts == [1, 1], "sent once"


async def test_the_manual_record_reaches_the_county_report(
    tmp_path: Path, influxd: Influxd, vm: VictoriaMetrics
) -> None:
    """Half-days recorded of those due, per compartment and day; a corrected day (a record
    entered late) is a later revision, and both engines count its last one."""
    influxd.create_db("coldchain")
    v1 = InfluxSettings.model_validate({"url": influxd.url, "v1_db": "coldchain", **FAST})
    v2 = InfluxSettings.model_validate(
        {"url": vm.url, "bucket": "coldchain", "org": "county", **FAST}
    )
    recorded = {at(1): 1, at(2): 2}

    def manual_of(start: int, end: int) -> dict[tuple[str, str, str], tuple[int, int]]:
        assert end - start == 86_400_000
        due = 2 if start >= START else 0  # the checks store was opened on Oct 1
        return {(NORTH.unit, "F1", "冷藏室"): (recorded.get(start, 0), due)}

    async with contextlib.AsyncExitStack() as closing:
        store = closing.enter_context(ReadingStore(tmp_path / "north.sqlite3"))
        store.write_batch(_month("P1", _north_fridge)[: 2 * 288])
        sinks = [make_sink(s, LineEncoder(NORTH)) for s in (v1, v2)]
        for sink in sinks:
            closing.push_async_callback(sink.close)
        sent: list[Daily] = []

        async def deliver(days: Sequence[Daily]) -> None:
            for sink in sinks:
                await sink.send_body(daily_lines(days, NORTH))
            sent.extend(days)

        clock = FakeClock(datetime(2026, 10, 3, 8, tzinfo=CLINIC_TZ))
        lane = DailyFiguresLane(
            "county", store, NORTH, deliver, clock,
            limits_of=limits_from(NORTH, DEFAULT_LIMITS), manual_of=manual_of, interval_ms=STEP,
        )  # fmt: skip
        await lane.step()
        recorded[at(1)] = 2
        await lane.step()
    manual = [d for d in sent if isinstance(d, ManualDay)]
    assert [(d.day_ms, d.recorded, d.revision) for d in manual] == [
        (at(1), 1, 0), (at(2), 2, 0), (at(1), 2, 1),
    ]  # fmt: skip
    options = CountyOptions(MONTH, interval_s=INTERVAL_S)
    async with InfluxQL(influxd.url, "coldchain") as client:
        daily = await county_daily_report(client, options)
    row = next(r for r in daily.rows["compartment"] if r.place.compartment == "冷藏室")
    assert row.manual == ManualRecords(4, 4)
    assert len(vm.samples("coldchain_daily_manual_due", at_least=3)) == 3
    totals = (await victoria.fold_manual(vm.url, START, END)).totals()
    assert totals == {(NORTH.unit, "F1", "冷藏室"): ManualRecords(4, 4)}


async def test_days_kept_back_by_an_outage_across_the_month_end_are_sent_later(
    store: ReadingStore,
) -> None:
    """The county server is unreachable from Oct 25 to Nov 10: October's last days go on the
    10th, after the previous month's usual recheck days are over."""
    store.write_batch(_month("P1", _south_fridge))
    down = True
    sent: list[tuple[str, int]] = []

    async def deliver(days: Sequence[Daily]) -> None:
        if down:
            raise RetryableError("county server unreachable")
        sent.extend((day.subject, day.day_ms) for day in days)

    clock = FakeClock(datetime(2026, 10, 25, 12, tzinfo=CLINIC_TZ))
    lane = DailyFiguresLane(
        "county", store, SOUTH, deliver, clock,
        limits_of=limits_from(SOUTH, DEFAULT_LIMITS), interval_ms=STEP,
    )  # fmt: skip
    await lane.step()
    await clock.advance(16 * 86_400)
    await lane.step()
    assert sent == []
    down = False
    await lane.step()
    october = [day for _, day in sent if START <= day < END]
    assert sorted(october) == list(range(START, END, 86_400_000))
    assert store.get_meta("forward.daily_figures.county.sent_through") == str(START)
    sent.clear()
    await lane.step()
    assert sent == [], "each day once"


async def test_months_before_the_first_reading_are_not_folded(store: ReadingStore) -> None:
    """A new gateway folds the months it has readings of, not the thirteen it may look back
    on (2,000 probes × 13 empty months at every start)."""

    async def deliver(days: Sequence[Daily]) -> None:
        raise AssertionError("nothing is sent in this test")

    clock = FakeClock(datetime(2026, 12, 20, 12, tzinfo=CLINIC_TZ))
    lane = DailyFiguresLane(
        "county", store, SOUTH, deliver, clock,
        limits_of=limits_from(SOUTH, DEFAULT_LIMITS), interval_ms=STEP,
    )  # fmt: skip
    now = int(clock.now().timestamp() * 1000)
    december = month_of(now)
    assert lane._months(now) == [december]
    store.write_batch(_month("P1", _south_fridge))
    november = month_of(december[0] - 1)
    assert lane._months(now) == [(START, END), november, december]
