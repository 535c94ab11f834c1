"""The report's table columns, shared by the HTML and the CSV output (Chinese headers)."""

from __future__ import annotations

from collections.abc import Callable

from analysis.alarm_events import CONDITIONS, LATENCY_BUCKETS
from analysis.period import local_text
from analysis.report import Report, Row

NO_DATA = "无数据"
EXPOSED = "暴露疫苗剂次"
CONDITION_NAMES = {
    "too_warm": "温度过高",
    "too_cold": "温度过低",
    "probe_offline": "探头离线",
    "probe_fault": "探头故障",
    "battery_low": "电量低",
    "gateway_power": "网关断电",
    "gateway_link": "网关断网",
    "who_heat": "WHO高温",
    "who_freeze": "WHO冷冻",
}
LEVEL_NAMES = {"compartment": "间室", "fridge": "冰箱", "clinic": "单位", "region": "区域"}
Column = tuple[str, Callable[[Row], str]]


def number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return ""
    if digits == 0 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


MIXED = "—"


def _temp(row: Row, value: float | None) -> str:
    """A temperature figure; "—" where refrigerated and frozen compartments mix."""
    if not row.stats.has_data:
        return NO_DATA
    return MIXED if row.mixed else number(value, 2)


def _when(row: Row, ms: int | None) -> str:
    return "" if row.mixed else local_text(ms)


def place_columns(report: Report, level: str) -> list[Column]:
    """The place of a row: codes, and their names when the report has them (a units file; a
    clinic's fridges from its configuration)."""
    named = report.units_named
    columns: list[Column] = [("区域编码", lambda r: r.place.region)]
    if named:
        columns.append(("区域名称", lambda r: report.name(r.place.region)))
    if level in ("clinic", "fridge", "compartment"):
        columns.append(("单位编码", lambda r: r.place.unit))
        if named:
            columns.append(("单位名称", lambda r: report.name(r.place.unit)))
    if level in ("fridge", "compartment"):
        columns.append(("冰箱", lambda r: r.place.fridge))
        if report.fridges_named:
            columns.append(("冰箱名称", lambda r: report.fridge_name(r.place)))
    if level == "compartment":
        columns += [("间室", lambda r: r.place.compartment), ("类型", lambda r: r.place.kind)]
    if level != "compartment":
        columns.append(("冰箱数", lambda r: str(r.fridges)))
    if level in ("clinic", "region"):
        columns.append(("问题冰箱数", lambda r: str(r.problem_fridges)))
    return columns


def _alarm_type(condition: str) -> Callable[[Row], str]:
    return lambda r: str(r.alarms.by_type.get(condition, 0))


def _latency(bucket: str) -> Callable[[Row], str]:
    return lambda r: str(r.alarms.latency.get(bucket, 0))


def figure_columns(report: Report) -> list[Column]:
    columns: list[Column] = [
        ("探头数", lambda r: str(r.stats.probes)),
        (
            "数据完整率%",
            lambda r: number(r.stats.completeness, 1) if r.stats.has_data else f"{NO_DATA} (0)",
        ),
        ("最低温度℃", lambda r: _temp(r, r.stats.min_c)),
        ("最低温度时间", lambda r: _when(r, r.stats.min_at)),
        ("最高温度℃", lambda r: _temp(r, r.stats.max_c)),
        ("最高温度时间", lambda r: _when(r, r.stats.max_at)),
        ("平均温度℃", lambda r: _temp(r, r.stats.mean_c)),
        ("平均动力学温度℃", lambda r: _temp(r, r.stats.mkt_c)),
        ("超范围次数", lambda r: str(r.stats.excursions)),
        ("高于范围分钟", lambda r: number(r.stats.minutes_above)),
        ("低于范围分钟", lambda r: number(r.stats.minutes_below)),
        ("WHO高温报警", lambda r: str(r.stats.who_heat)),
        ("WHO冷冻报警", lambda r: str(r.stats.who_freeze)),
        ("故障读数", lambda r: str(r.stats.faults)),
        ("故障分钟", lambda r: number(r.stats.minutes_fault)),
        ("离线分钟", lambda r: number(r.stats.minutes_offline)),
        ("报警数", lambda r: str(r.alarms.total)),
    ]
    if report.exposure_shown:
        columns.append((EXPOSED, lambda r: str(r.doses_exposed)))
    columns += [(f"报警:{CONDITION_NAMES[c]}", _alarm_type(c)) for c in CONDITIONS]
    columns += [(b if b == "未确认" else f"确认{b}分钟", _latency(b)) for b in LATENCY_BUCKETS]
    columns += [
        ("升级至二级", lambda r: str(r.alarms.tier2)),
        ("升级至三级", lambda r: str(r.alarms.tier3)),
        ("问题数", lambda r: str(r.problems)),
        ("人工记录合规", lambda r: "不可用" if r.manual is None else r.manual.words),
    ]
    return columns


def table(report: Report, level: str) -> tuple[list[str], list[list[str]]]:
    columns = place_columns(report, level) + figure_columns(report)
    header = [name for name, _ in columns]
    return header, [[cell(row) for _, cell in columns] for row in report.rows[level]]


def text_columns(report: Report, level: str) -> int:
    """How many leading columns of a level's table are text (codes, names)."""
    return sum(1 for name, _ in place_columns(report, level) if not name.endswith("数"))


def ranking_table(report: Report) -> tuple[list[str], list[list[str]]]:
    named, fridges_named = report.units_named, report.fridges_named
    header = ["名次", "区域编码", "单位编码", *(["单位名称"] if named else []), "冰箱"]
    header += ["冰箱名称"] if fridges_named else []
    header += ["问题数", "超范围次数", "超范围分钟", "WHO报警", "报警数", "数据完整率%"]
    rows = [
        [
            str(rank),
            r.place.region,
            r.place.unit,
            *([report.name(r.place.unit)] if named else []),
            r.place.fridge,
            *([report.fridge_name(r.place)] if fridges_named else []),
            str(r.problems),
            str(r.stats.excursions),
            number(r.stats.minutes_above + r.stats.minutes_below),
            str(r.stats.who_heat + r.stats.who_freeze),
            str(r.alarms.total),
            number(r.stats.completeness, 1) if r.stats.has_data else NO_DATA,
        ]
        for rank, r in enumerate(report.device_ranking, 1)
    ]
    return header, rows


def region_table(report: Report) -> tuple[list[str], list[list[str]]]:
    named = report.units_named
    header = ["名次", "区域编码", *(["区域名称"] if named else [])]
    header += ["冰箱数", "问题冰箱数", "问题冰箱占比%"]
    rows = [
        [
            str(rank),
            r.place.region,
            *([report.name(r.place.region)] if named else []),
            str(r.fridges),
            str(r.problem_fridges),
            number(r.problem_share, 1),
        ]
        for rank, r in enumerate(report.region_ranking, 1)
    ]
    return header, rows
