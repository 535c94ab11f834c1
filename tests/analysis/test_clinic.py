"""The clinic report from a gateway's own store, and its monthly schedule on a FakeClock."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analysis.columns import table
from gateway.core.clock import FakeClock
from gateway.ledgers.excursion_service import ExcursionService
from gateway.reports.cli import add_report_parser, run_report
from gateway.reports.clinic import clinic_report
from gateway.reports.schedule import next_fire, run_monthly_reports
from gateway.settings import Settings, parse_settings
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.readings import ReadingStore, from_millis
from gateway.storage.registry import READINGS
from ledger.stability import StabilityTable
from probes.reading import ProbeStatus, Reading
from tests.analysis import dataset as d
from tests.excursions.conftest import covid, hepb
from tests.ledger.conftest import SHIPMENT

UNIT = "6101030201"
TOML = f"""
[unit]
code = "{UNIT}"
name = "测试门诊"
region_code = "610103"

[gateway]
number = "10001"
data_dir = "DATA"

[[buses]]
name = "sim"
transport = "tcp"
host = "127.0.0.1"
port = 5020

[[fridges]]
code = "F1"
name = "1号冰箱"
kind = "refrigerator"
compartments = [{{name = "冷藏", kind = "refrigerated"}}, {{name = "冷冻", kind = "frozen"}}]

[[probes]]
code = "208601"
bus = "sim"
device_id = 1
profile = "rs485-th"
compartment = "F1/冷藏"
poll_interval_s = 300

[[probes]]
code = "208602"
bus = "sim"
device_id = 2
profile = "pt100"
compartment = "F1/冷冻"
poll_interval_s = 300
"""


def settings(data_dir: Path) -> Settings:
    import tomllib

    data: dict[str, Any] = tomllib.loads(TOML.replace("DATA", str(data_dir)))
    return parse_settings(data, "test")


def fill(data_dir: Path) -> None:
    """October for the refrigerated probe (compressor failure); nothing for the frozen one;
    plus two readings of 40 °C stamped by an unsynchronised clock, their correction unknown."""
    data_dir.mkdir(parents=True, exist_ok=True)
    batch = [
        Reading("208601", from_millis(t), ProbeStatus.OK, temperature=value)
        for t, value in d.readings(d.PROBES[0])
    ]
    batch += [
        Reading("208601", from_millis(d.at(3, 3, 3)), ProbeStatus.OK, 40.0, clock_synced=False),
        Reading("208601", from_millis(d.at(3, 3, 4)), ProbeStatus.OK, 40.0, clock_synced=False),
    ]
    with ReadingStore(data_dir / READINGS.file) as store:
        store.write_batch(batch)


@pytest.mark.asyncio
async def test_clinic_report_from_the_gateway_store(tmp_path: Path) -> None:
    fill(tmp_path)
    report = await clinic_report(settings(tmp_path), tmp_path, d.MONTH)
    by_name = {r.place.compartment: r.stats for r in report.rows["compartment"]}
    cold = by_name["冷藏"]
    # The two flagged readings count where they were stamped: one more excursion (2 minutes,
    # up to the next reading) that the note says may be misplaced in time.
    assert cold.ok == 31 * 288 + 2
    assert cold.completeness == 100.0
    assert cold.minutes_above == 135 * 5 + 2
    assert (cold.excursions_above, cold.who_heat) == (2, 1)
    assert cold.max_c == 40.0
    frozen = by_name["冷冻"]
    assert not frozen.has_data
    assert frozen.completeness == 0.0
    (note,) = report.notes
    assert note.startswith("2 个读数（占 0.0%）采集时网关时钟未同步且无法校正：已按记录时间计入")
    assert report.doubts == []  # a few flagged readings are not most of the month
    assert report.rows["clinic"][0].problems == 4  # 2 excursions + WHO heat + no-data compartment


@pytest.mark.asyncio
async def test_cli_clinic_mode(tmp_path: Path) -> None:
    data = tmp_path / "data"
    fill(data)
    config = tmp_path / "gateway.toml"
    config.write_text(TOML.replace("DATA", str(data)), encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers())
    out = tmp_path / "out"
    args = parser.parse_args(
        ["report", "monthly", "--config", str(config), "--month", d.MONTH, "--out", str(out)]
    )
    assert await run_report(args) == 0
    html = (out / "report-2026-10.html").read_text(encoding="utf-8")
    assert "测试门诊" in html
    assert "无数据" in html
    # Fridges by the configuration's name, the code beside it.
    assert '<td class="t">F1</td><td class="t">1号冰箱</td>' in html
    with (out / "compartments.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(row["冰箱"], row["冰箱名称"], row["间室"]) for row in rows} == {
        ("F1", "1号冰箱", "冷藏"),
        ("F1", "1号冰箱", "冷冻"),
    }
    assert "单位名称" not in rows[0]  # unit names come from a units file only


def record_compressor_excursion(data_dir: Path) -> None:
    """A ledger beside the store: two hepatitis B vials (1 dose each) and a COVID vial (2 doses)
    in F1/冷藏 from October 1, and the compressor failure recorded as an excursion; plus one
    in September (not October's)."""
    clock = FakeClock(from_millis(d.START_MS - 20 * d.DAY))
    with (
        LedgerDB.in_folder(data_dir) as db,
        ReadingStore(data_dir / READINGS.file) as readings,
    ):
        catalogue = Catalogue(db)
        catalogue.import_json(json.dumps(SHIPMENT))
        stock = StockLedger(db, catalogue, clock)
        service = ExcursionService(
            settings(data_dir), clock, db, stock, readings=readings, stability=StabilityTable()
        )
        for item in (hepb(1), hepb(2), covid(1)):
            service.locations.receive_into(item, "F1/冷藏", event_id=f"in-{item}", actor="王芳")
        september = from_millis(d.START_MS - 10 * d.DAY)
        service.record("sep", "F1/冷藏", september, september + timedelta(hours=1), "test")
        onset = from_millis(d.COMPRESSOR_ONSET)
        service.record("oct", "F1/冷藏", onset, from_millis(d.COMPRESSOR_REPAIR), "test")


@pytest.mark.asyncio
async def test_clinic_report_counts_doses_exposed_from_the_ledger(tmp_path: Path) -> None:
    fill(tmp_path)
    without = await clinic_report(settings(tmp_path), tmp_path, d.MONTH)
    assert not without.exposure_shown, "no ledger file: the figure is left out"
    assert "暴露疫苗剂次" not in table(without, "clinic")[0]
    record_compressor_excursion(tmp_path)
    report = await clinic_report(settings(tmp_path), tmp_path, d.MONTH)
    assert report.exposure_shown
    assert report.doses_exposed == 4
    by_name = {r.place.compartment: r.doses_exposed for r in report.rows["compartment"]}
    assert by_name == {"冷藏": 4, "冷冻": 0}
    header, rows = table(report, "clinic")
    assert rows[0][header.index("暴露疫苗剂次")] == "4"


def test_next_fire_is_the_1st_at_6_shanghai() -> None:
    now = datetime(2026, 10, 15, tzinfo=UTC)
    assert next_fire(now) == datetime(2026, 10, 31, 22, 0, tzinfo=UTC)
    fire = datetime(2026, 10, 31, 22, 0, tzinfo=UTC)
    assert next_fire(fire) == datetime(2026, 11, 30, 22, 0, tzinfo=UTC)


@pytest.mark.asyncio
async def test_monthly_schedule_writes_last_month(tmp_path: Path) -> None:
    fill(tmp_path)
    clock = FakeClock(datetime(2026, 10, 31, 21, 0, tzinfo=UTC))  # Nov 1, 05:00 local
    out = tmp_path / "reports"
    task = asyncio.create_task(run_monthly_reports(settings(tmp_path), clock, out))
    try:
        await clock.advance(59 * 60)
        assert not (out / "2026-10").exists()
        await clock.advance(60)
        async with asyncio.timeout(30):  # building and writing it takes real time
            while not (out / "2026-10" / "report-2026-10.html").exists():
                await asyncio.sleep(0.01)
        assert (out / "2026-10" / "clinics.csv").exists()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _config(tmp_path: Path, data: Path) -> Path:
    config = tmp_path / "gateway.toml"
    config.write_text(TOML.replace("DATA", str(data)), encoding="utf-8")
    return config


async def _cli(config: Path, out: Path, *extra: str) -> int:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers())
    args = parser.parse_args(
        ["report", "monthly", "--config", str(config), "--month", d.MONTH, "--out", str(out),
         *extra]
    )  # fmt: skip
    return await run_report(args)


@pytest.mark.asyncio
async def test_a_month_without_data_says_so_at_the_top_and_fails_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    ReadingStore(data / READINGS.file).close()
    config = _config(tmp_path, data)
    assert await _cli(config, tmp_path / "out") == 0
    assert await _cli(config, tmp_path / "strict", "--strict") == 1
    assert "注意: 本月没有任何读数" in capsys.readouterr().err
    html = (tmp_path / "strict" / "report-2026-10.html").read_text(encoding="utf-8")
    top = html.split("<h2>")[0]
    assert '<p class="doubt"><b>注意：</b>本月没有任何读数' in top


@pytest.mark.asyncio
async def test_a_month_stamped_by_an_unsynchronised_clock_is_counted_and_flagged(
    tmp_path: Path,
) -> None:
    """The demo without a time service: every reading flagged. They count, at their stamps,
    and the report says at its top that its times may be off; --strict fails."""
    data = tmp_path / "data"
    data.mkdir()
    with ReadingStore(data / READINGS.file) as store:
        store.write_batch([
            Reading(probe, from_millis(t), ProbeStatus.OK, value, clock_synced=False)
            for probe, value in (("208601", 5.0), ("208602", -20.0))
            for t in range(d.START_MS, d.END_MS, 300_000)
        ])  # fmt: skip
    report = await clinic_report(settings(data), data, d.MONTH)
    by_name = {r.place.compartment: r.stats for r in report.rows["compartment"]}
    assert by_name["冷藏"].ok == by_name["冷冻"].ok == 31 * 288
    assert by_name["冷藏"].completeness == 100.0
    (doubt,) = report.doubts
    assert doubt.startswith(
        f"本月多数读数（100%，{2 * 31 * 288}/{2 * 31 * 288}）在网关时钟未同步时"
    )
    assert "配置时间同步" in doubt
    assert await _cli(_config(tmp_path, data), tmp_path / "out", "--strict") == 1


@pytest.mark.asyncio
async def test_corrected_readings_count_at_their_corrected_time(tmp_path: Path) -> None:
    fill(tmp_path)
    with ReadingStore(tmp_path / READINGS.file) as store:
        flagged = [seq for seq, _ in store.unsynced_after(0, 10)]
        assert len(flagged) == 2
        store.correct_times([(seq, from_millis(d.at(3, 3, 3))) for seq in flagged])
    report = await clinic_report(settings(tmp_path), tmp_path, d.MONTH)
    (note,) = report.notes
    assert note.startswith("2 个读数采集时网关时钟未同步，时钟同步后已按偏差校正时间并计入")


@pytest.mark.asyncio
async def test_manual_record_compliance_comes_from_the_months_records(tmp_path: Path) -> None:
    from gateway.checks.manual_readings import HalfDay, ManualReading
    from gateway.storage.checks import ChecksStore
    from gateway.storage.registry import CHECKS

    fill(tmp_path)
    opened = from_millis(d.START_MS)
    with ChecksStore(tmp_path / CHECKS.file, opened) as checks:
        for day in range(1, 11):  # the refrigerated one, both halves of October 1-10
            for half, hour in ((HalfDay.MORNING, 9), (HalfDay.AFTERNOON, 16)):
                taken = from_millis(d.at(day, hour))
                checks.add_manual(
                    ManualReading("F1/冷藏", taken.date(), half, taken, 5.0, False, "wang",
                                  "王芳", taken)
                )  # fmt: skip
    end = from_millis(d.END_MS)
    report = await clinic_report(settings(tmp_path), tmp_path, d.MONTH, now=end)
    header, rows = table(report, "compartment")
    column = {row[header.index("间室")]: row[header.index("人工记录合规")] for row in rows}
    assert column == {"冷藏": "32%（20/62 个半天）", "冷冻": "0%（0/62 个半天）"}
    assert report.manual_records == "16%（20/124 个半天）"
    early = await clinic_report(settings(tmp_path), tmp_path, d.MONTH, now=from_millis(d.at(6)))
    assert early.manual_records == "50%（10/20 个半天）"  # only the half-days due by then
