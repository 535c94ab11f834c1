"""The county report's doubts (shown at its top; `coldchain report --strict` fails on them):
clinics without data, clinics whose gateways reported fewer days than the month has, and
clinics most of whose readings were stamped by a clock never synchronised."""

from __future__ import annotations

from analysis.report import Report

UNSYNCED_SHARE = 0.5
SHOWN = 10


def _listed(units: list[str]) -> str:
    more = f" 等 {len(units)} 个单位" if len(units) > SHOWN else ""
    return "、".join(units[:SHOWN]) + more


def county_doubts(report: Report) -> list[str]:
    """One doubt per kind of gap, naming the clinics (empty: the month is complete)."""
    no_data: list[str] = []
    unsynced: list[str] = []
    for row in report.rows["clinic"]:
        stats = row.stats
        if not stats.has_data:
            no_data.append(row.place.unit)
        elif stats.unsynced > UNSYNCED_SHARE * (stats.ok + stats.faults):
            unsynced.append(row.place.unit)
    late = [f"{unit}（{days} 天）" for unit, days in report.late]
    out = []
    if no_data:
        out.append(f"本月无数据的单位：{_listed(no_data)}")
    if late:
        out.append(f"有几天没有上报每日数据的单位（网关离线或迟报）：{_listed(late)}")
    if unsynced:
        out.append(f"多数读数采集时网关时钟未同步的单位：{_listed(unsynced)}")
    return out
