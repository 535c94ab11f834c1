"""领用计划: next month's requisition per vaccine, proposed by the clinic, reviewed by the county.

For each vaccine: need = last month's doses administered × its wastage coefficient (rounded
up); usable stock = doses on hand now, leaving out batches that expire before the end of the
planned month and packages held by an open quarantine; proposed = need − usable stock (never
below zero). A plan is computed, not stored, until the county reviews it: the review stores
the plan as reviewed with who and when (once per month, `gateway.storage.ledger.requisition`).
Exports: CSV and printable HTML.
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

from gateway.core import clinic_time
from gateway.core.clinic_time import CLINIC_TZ
from ledger.stock_errors import MonthInvalidError

PROPOSED, REVIEWED = "proposed", "reviewed"
COLUMNS = (
    ("vaccine_code", "疫苗编码"),
    ("name", "疫苗名称"),
    ("used_doses", "上月使用(剂)"),
    ("wastage", "损耗系数"),
    ("need_doses", "需求(剂)"),
    ("stock_doses", "库存(剂)"),
    ("expiring_doses", "月内过期(剂)"),
    ("quarantined_doses", "隔离待处置(剂)"),
    ("usable_doses", "可用库存(剂)"),
    ("proposed_doses", "计划领用(剂)"),
)


@dataclass(frozen=True, slots=True)
class PlanLine:
    vaccine_code: str
    name: str
    used_doses: int
    wastage: float
    need_doses: int
    stock_doses: int
    expiring_doses: int
    quarantined_doses: int
    usable_doses: int
    proposed_doses: int


@dataclass(frozen=True, slots=True)
class RequisitionPlan:
    month: str  # the planned month, YYYY-MM
    based_on: str  # the month whose use it starts from
    lines: tuple[PlanLine, ...]
    state: str = PROPOSED
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    note: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "month": self.month,
            "based_on": self.based_on,
            "state": self.state,
            "reviewed_by": self.reviewed_by,
            "reviewed_at": None if self.reviewed_at is None else self.reviewed_at.isoformat(),
            "note": self.note,
            "lines": [asdict(line) for line in self.lines],
        }


def parse_month(text: str) -> tuple[int, int]:
    """`YYYY-MM` as (year, month) (`gateway.core.clinic_time.parse_month`), refused with
    `MonthInvalidError`."""
    try:
        return clinic_time.parse_month(text)
    except ValueError as error:
        raise MonthInvalidError("month", str(error), params={"value": text}) from None


def shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + by
    return index // 12, index % 12 + 1


def plan_lines(
    used: Mapping[str, int], wastage: Mapping[str, float], names: Mapping[str, str], *,
    stock: Mapping[str, int], expiring: Mapping[str, int], quarantined: Mapping[str, int],
) -> tuple[PlanLine, ...]:  # fmt: skip
    """The arithmetic, per vaccine code (pure)."""
    lines = []
    for vaccine in sorted(set(used) | set(stock)):
        coefficient = wastage.get(vaccine, 1.0)
        need = math.ceil(used.get(vaccine, 0) * coefficient - 1e-9)
        usable = max(
            stock.get(vaccine, 0) - expiring.get(vaccine, 0) - quarantined.get(vaccine, 0), 0
        )
        lines.append(PlanLine(
            vaccine, names.get(vaccine, vaccine), used.get(vaccine, 0), round(coefficient, 3),
            need, stock.get(vaccine, 0), expiring.get(vaccine, 0), quarantined.get(vaccine, 0),
            usable, max(need - usable, 0),
        ))  # fmt: skip
    return tuple(lines)


def to_csv(plan: RequisitionPlan) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([title for _, title in COLUMNS])
    for line in plan.lines:
        row = asdict(line)
        writer.writerow([row[key] for key, _ in COLUMNS])
    return out.getvalue()


def to_html(plan: RequisitionPlan, unit_name: str) -> str:
    """A printable page (A4, print CSS)."""
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(asdict(line)[key]))}</td>" for key, _ in COLUMNS)
        + "</tr>"
        for line in plan.lines
    )  # fmt: skip
    if plan.state == REVIEWED and plan.reviewed_at is not None:
        local = plan.reviewed_at.astimezone(CLINIC_TZ)
        status = f"县级审核：{plan.reviewed_by}，{local:%Y-%m-%d %H:%M}"
    else:
        status = "状态：待县级审核"
    note = f"<p>备注：{html.escape(plan.note)}</p>" if plan.note else ""
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(plan.month)} 疫苗领用计划</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
        "th,td{border:1px solid #444;padding:4px 6px;text-align:right}"
        "td:nth-child(2),th:nth-child(2){text-align:left}"
        "@media print{@page{size:A4 landscape;margin:12mm}body{margin:0}}"
        "</style></head><body>"
        f"<h1>{html.escape(unit_name)} {html.escape(plan.month)} 疫苗领用计划</h1>"
        f"<p>依据 {html.escape(plan.based_on)} 使用量、当前库存、效期、隔离及损耗系数。"
        f"{html.escape(status)}</p>{note}"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>"
    )
