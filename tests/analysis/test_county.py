"""The county report against a real influxd loaded with October 2026 (see `dataset`)."""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import pytest
from aiohttp import web

from analysis.county import CountyOptions, county_report
from analysis.errors import (
    InfluxAuthError,
    InfluxQueryError,
    InfluxUnreachableError,
    UnknownRegionError,
)
from analysis.influxql import InfluxQL
from analysis.report import Report, Row
from gateway.forward.line_protocol import series_key
from gateway.reports.cli import add_report_parser, run_report
from tests.analysis import dataset as d
from tests.analysis.conftest import DB, load
from tests.servers import Influxd, free_port

pytestmark = pytest.mark.asyncio(loop_scope="function")


async def _report(server: Influxd, region: str | None = None, db: str = DB) -> Report:
    async with InfluxQL(server.url, db, chunk_size=2000) as client:
        return await county_report(client, CountyOptions(d.MONTH, region, interval_s=300))


def _row(report: Report, level: str, unit: str, compartment: str = "") -> Row:
    for row in report.rows[level]:
        if row.place.unit == unit and (not compartment or row.place.compartment == compartment):
            return row
    raise AssertionError(f"no {level} row for {unit} {compartment}")


def _reference(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Mean and MKT by the documented definitions, written out independently."""
    step, max_gap = d.STEP_MS, 3 * d.STEP_MS
    weights = []
    for index, (t, value) in enumerate(points):
        following = points[index + 1][0] if index + 1 < len(points) else None
        held = following - t if following is not None and following - t <= max_gap else step
        weights.append((value, min(held, d.END_MS - t)))
    total = sum(w for _, w in weights)
    terms = sum(w * math.exp(-10_000.0 / (v + 273.15)) for v, w in weights)
    mkt = 10_000.0 / -math.log(terms / total) - 273.15
    return sum(v for _, v in points) / len(points), mkt


async def test_figures_per_compartment_equal_the_scenarios(loaded_influxd: Influxd) -> None:
    report = await _report(loaded_influxd)
    expected_readings = 31 * 288
    for probe in d.PROBES:
        row = _row(report, "compartment", probe.unit, probe.compartment)
        points = d.readings(probe)
        mean, mkt = _reference(points)
        stats = row.stats
        assert stats.expected == expected_readings
        assert stats.ok == len(points)
        assert stats.completeness == pytest.approx(100 * len(points) / expected_readings)
        assert stats.mean_c == pytest.approx(mean, rel=1e-12)
        assert stats.mkt_c == pytest.approx(mkt, rel=1e-12)
        low = min(points, key=lambda p: (p[1], p[0]))
        high = min(points, key=lambda p: (-p[1], p[0]))
        assert (stats.min_at, stats.min_c) == low
        assert (stats.max_at, stats.max_c) == high
        assert stats.outside_period == 0

    compressor = _row(report, "compartment", "6101030201", "冷藏").stats
    # onset 00:02, 8 °C crossed at 00:42: readings 00:45 ... 11:55 above range (135 × 5 min)
    assert compressor.excursions_above == 1
    assert compressor.minutes_above == 135 * 5
    assert compressor.who_heat == 1  # 00:45 to 11:55 is 11 h 10 min at >= 8 °C
    assert compressor.max_at == d.at(10, 11, 55)
    freezer = _row(report, "compartment", "6101030201", "冷冻").stats
    assert (freezer.excursions, freezer.completeness) == (0, 100.0)

    thermostat = _row(report, "compartment", "6101030202").stats
    assert thermostat.excursions_below == 1
    assert thermostat.minutes_below == 68 * 5
    assert thermostat.who_freeze == 1
    assert thermostat.minutes_above == 0

    power = _row(report, "compartment", "6101040301").stats
    assert power.ok == expected_readings - 36  # 3 h silent at 5-minute sampling
    assert power.completeness == pytest.approx(100 * 8892 / 8928)
    assert power.excursions_above == 1  # warm on return: 05:05 ... 05:30
    assert power.minutes_above == 6 * 5
    assert power.who_heat == 0

    clean = _row(report, "compartment", "6101040302").stats
    assert (clean.excursions, clean.who_heat, clean.who_freeze) == (0, 0, 0)
    assert clean.completeness == 100.0
    assert (clean.max_c or 99.0) < 8.0  # the 30 °C clock-shifted points are out


async def test_no_data_clinic_is_reported_as_no_data(loaded_influxd: Influxd) -> None:
    report = await _report(loaded_influxd)
    row = _row(report, "clinic", "6101050401")
    assert not row.stats.has_data
    assert row.stats.completeness == 0.0
    assert row.stats.mkt_c is None
    assert row.problems == 1
    assert row.problem_fridges == 1


async def test_alarms_latency_and_escalations(loaded_influxd: Influxd) -> None:
    report = await _report(loaded_influxd)
    a = _row(report, "compartment", "6101030201", "冷藏").alarms
    assert (a.total, a.by_type["too_warm"], a.tier2, a.tier3) == (1, 1, 1, 1)
    assert a.latency == {"60–120": 1}  # first acknowledgement 70 min after opening
    b = _row(report, "compartment", "6101030202").alarms
    assert (b.total, b.latency, b.tier2) == (1, {"≤30": 1}, 0)
    clinic_c = _row(report, "clinic", "6101040301").alarms
    assert clinic_c.total == 2  # gateway power + battery low; the September alarm is out
    assert clinic_c.by_type == {"gateway_power": 1, "battery_low": 1}
    assert clinic_c.latency == {"30–60": 1, "未确认": 1}
    assert (clinic_c.tier2, clinic_c.tier3) == (1, 0)
    fridge_c = _row(report, "fridge", "6101040301").alarms
    assert fridge_c.by_type == {"battery_low": 1}  # a gateway alarm belongs to no fridge


async def test_rankings(loaded_influxd: Influxd) -> None:
    report = await _report(loaded_influxd)
    ranking = [(r.place.unit, r.problems) for r in report.device_ranking]
    assert ranking == [
        ("6101030201", 3),  # excursion + WHO heat + alarm, 675 min out of range
        ("6101030202", 3),  # excursion + WHO freeze + alarm, 340 min
        ("6101040301", 2),  # excursion + battery alarm
        ("6101050401", 1),  # no data
    ]
    regions = [(r.place.region, r.problem_fridges, r.fridges) for r in report.region_ranking]
    assert regions == [("610103", 2, 2), ("610105", 1, 1), ("610104", 1, 2)]


async def test_doses_exposed_per_clinic_region_and_county(loaded_influxd: Influxd) -> None:
    report = await _report(loaded_influxd)
    assert report.exposure_shown
    for unit, doses in d.EXPOSED_DOSES.items():
        assert _row(report, "clinic", unit).doses_exposed == doses
    assert _row(report, "clinic", "6101050401").doses_exposed == 0
    assert _row(report, "compartment", "6101030201", "冷藏").doses_exposed == 20
    assert _row(report, "compartment", "6101030201", "冷冻").doses_exposed == 0
    assert {r.place.region: r.doses_exposed for r in report.rows["region"]} == {
        "610103": 25, "610104": 0, "610105": 0,
    }  # fmt: skip
    assert report.doses_exposed == 25  # the September and November excursions are out
    assert (await _report(loaded_influxd, "610104")).doses_exposed == 0


async def test_region_filter(loaded_influxd: Influxd) -> None:
    report = await _report(loaded_influxd, "610104")
    assert {r.place.unit for r in report.rows["clinic"]} == {"6101040301", "6101040302"}
    assert [r.place.region for r in report.rows["region"]] == ["610104"]


async def test_each_probe_is_read_whatever_its_names_hold(loaded_influxd: Influxd) -> None:
    """Each probe's readings are asked for by its tags: names with the characters line
    protocol escapes, quotes and backslashes still find them; a probe without a region tag
    too."""
    db = "awkward"
    loaded_influxd.create_db(db)
    names = ["冷藏 室", "a,b=c", "it's", "back\\slash", "tab\tin"]
    lines = []
    for number, name in enumerate(names):
        tags = [("unit", "6101030201"), ("fridge", f"F {name}"), ("compartment", name)]
        tags += [("kind", "refrigerated"), ("probe", f"P{number}")]
        tags += [("region", "610103")] if number else []
        key = series_key("coldchain", tags)
        lines += [f"{key} temperature=5.0,status=0i {d.START_MS + m * 300_000}" for m in range(7)]
    load(loaded_influxd, db, iter(lines))
    report = await _report(loaded_influxd, db=db)
    assert sorted(r.stats.ok for r in report.rows["compartment"]) == [7] * len(names)


async def test_unknown_region_lists_the_known_ones(loaded_influxd: Influxd) -> None:
    with pytest.raises(UnknownRegionError, match="999999") as caught:
        await _report(loaded_influxd, "999999")
    assert "610103, 610104, 610105" in str(caught.value)


async def test_unknown_database(loaded_influxd: Influxd) -> None:
    with pytest.raises(InfluxQueryError, match=r"no database 'nosuch'.*--influx-db"):
        await _report(loaded_influxd, db="nosuch")


async def test_unreachable_server_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(InfluxUnreachableError, match=f"cannot reach InfluxDB at {url}"):
        async with InfluxQL(url, DB) as client:
            await client.rows("SHOW DATABASES")


async def test_refused_credentials_name_the_fix() -> None:
    async def refuse(_: web.Request) -> web.Response:
        return web.json_response({"error": "authorization failed"}, status=401)

    app = web.Application()
    app.router.add_post("/query", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        with pytest.raises(InfluxAuthError, match="--influx-token"):
            async with InfluxQL(f"http://127.0.0.1:{port}", DB, token="bad") as client:
                await client.rows("SHOW DATABASES")
    finally:
        await runner.cleanup()


async def test_a_server_on_this_machine_is_asked_for_an_uncompressed_response() -> None:
    encodings: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        encodings.append(request.headers.get("Accept-Encoding", ""))
        return web.json_response({"results": [{"statement_id": 0}]})

    app = web.Application()
    app.router.add_post("/query", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with InfluxQL(f"http://127.0.0.1:{port}", DB) as client:
            assert await client.rows("SHOW DATABASES") == []
    finally:
        await runner.cleanup()
    assert encodings == ["identity"]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="coldchain")
    add_report_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["report", "monthly", *argv])


async def test_cli_writes_html_and_csv(loaded_influxd: Influxd, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = _args(
        "--influx-url", loaded_influxd.url, "--month", d.MONTH, "--out", str(out),
        "--interval-s", "300",
    )  # fmt: skip
    assert await run_report(args) == 0
    html = (out / "report-2026-10.html").read_text(encoding="utf-8")
    for label in ("冷链设备月度分析报告", "数据完整率", "平均动力学温度", "问题设备排名"):
        assert label in html
    assert "区域问题设备占比排名" in html
    with (out / "device_ranking.csv").open(encoding="utf-8-sig", newline="") as handle:
        ranked = len(list(csv.DictReader(handle)))
    assert ranked, "the month has problem fridges"
    assert html.count("<svg") == 4 + ranked, "four charts and a curve per ranked problem fridge"
    assert "无数据" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "@media print" in html
    with (out / "clinics.csv").open(encoding="utf-8-sig", newline="") as handle:
        clinics = {row["单位编码"]: row for row in csv.DictReader(handle)}
    assert clinics["6101050401"]["数据完整率%"] == "无数据 (0)"
    assert clinics["6101040302"]["数据完整率%"] == "100"
    assert clinics["6101030201"]["升级至三级"] == "1"
    assert clinics["6101030201"]["人工记录合规"] == "不可用"
    assert {unit: row["暴露疫苗剂次"] for unit, row in clinics.items()} == {
        "6101030201": "20", "6101030202": "5", "6101040301": "0", "6101040302": "0",
        "6101050401": "0",
    }  # fmt: skip
    assert '<div class="card">暴露疫苗剂次<b>25</b></div>' in html
    with (out / "device_ranking.csv").open(encoding="utf-8-sig", newline="") as handle:
        ranking = list(csv.DictReader(handle))
    assert [r["单位编码"] for r in ranking][:2] == ["6101030201", "6101030202"]
    assert "冰箱名称" not in ranking[0]  # no units file: codes only


async def test_a_units_file_names_units_and_fridges(
    loaded_influxd: Influxd, tmp_path: Path
) -> None:
    units = tmp_path / "units.csv"
    units.write_text(
        "code,name\n6101030201,长延堡社区卫生服务中心\n6101030201/F1,1号医用冰箱\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = _args(
        "--influx-url", loaded_influxd.url, "--month", d.MONTH, "--out", str(out),
        "--interval-s", "300", "--units", str(units),
    )  # fmt: skip
    assert await run_report(args) == 0
    with (out / "device_ranking.csv").open(encoding="utf-8-sig", newline="") as handle:
        first, second, *_ = csv.DictReader(handle)
    assert (first["单位名称"], first["冰箱"], first["冰箱名称"]) == (
        "长延堡社区卫生服务中心", "F1", "1号医用冰箱",
    )  # fmt: skip
    assert (second["单位编码"], second["冰箱名称"]) == ("6101030202", "")
    html = (out / "report-2026-10.html").read_text(encoding="utf-8")
    assert "长延堡社区卫生服务中心（6101030201） / 1号医用冰箱（F1）" in html


async def test_cli_unreachable_exit_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    args = _args("--influx-url", url, "--month", d.MONTH, "--out", str(tmp_path))
    assert await run_report(args) == 2
    assert f"cannot reach InfluxDB at {url}" in capsys.readouterr().err


async def test_cli_bad_month(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = _args("--influx-url", "http://127.0.0.1:1", "--month", "2026-13", "--out", str(tmp_path))
    assert await run_report(args) == 2
    assert "YYYY-MM" in capsys.readouterr().err
