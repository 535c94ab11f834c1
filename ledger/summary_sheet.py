"""The daily summary tables as the national system's forms lay them out (seed 000, 表1 and 表2),
pure: complete rows, printable HTML and CSV.

表1 (by age group) is one sheet per manufacturer (疫苗生产企业), 表2 (by crowd category) one sheet
for all. Each lists every group of its code table, in the table's order, with a row even when
nothing was given (a zero report is a full table of zeros, not an empty one), the group's name
with its code, 摸底总人数 (the surveyed total the clinic entered; blank when not entered), today's
and the cumulative count of doses 1 to 3, and a 合计 row. When no manufacturer has any dose yet,
表1 is one sheet of zeros for all manufacturers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

from gateway.core.clinic_time import CLINIC_TZ
from ledger.summaries import DOSES, SummaryTable
from ledger.tables import ReferenceTables

TITLES = {
    "age_group": "表1 (分年龄/企业的) 新冠病毒疫苗接种信息汇总表",
    "crowd_category": "表2 (按人群分类的) 新冠病毒疫苗接种信息汇总表",
}
ALL_MANUFACTURERS = "全部企业"
TOTAL = "合计"


@dataclass(frozen=True, slots=True)
class SheetRow:
    group: str  # the age group's label or the crowd category's code; "" for 合计
    label: str  # what the form prints: 18~44岁, 29 其他人员, 合计
    survey: int | None  # 摸底总人数, None when not entered
    counts: tuple[tuple[int, int], ...]  # (today, cumulative) of doses 1, 2, 3


@dataclass(frozen=True, slots=True)
class Sheet:
    day: date
    by: str
    manufacturer: str  # the manufacturer's name, or 全部企业
    rows: tuple[SheetRow, ...]  # every group, then 合计

    @property
    def zero_report(self) -> bool:
        return not any(today for row in self.rows for today, _ in row.counts)


def summary_sheets(
    table: SummaryTable, tables: ReferenceTables, survey: Mapping[str, int]
) -> list[Sheet]:
    """The sheets of one table; `survey` maps a group (label or code) to 摸底总人数."""
    if table.by == "age_group":
        groups = [(group.label, group.label) for group in tables.age_groups]
    else:
        groups = [(code, f"{code} {name}") for code, name in tables.crowd_categories.items()]
    makers = sorted({maker for maker, _, _ in table.cumulative} | {m for m, _, _ in table.today})
    if table.by != "age_group" or not makers:
        return [_sheet(table, groups, survey, None, ALL_MANUFACTURERS)]
    return [
        _sheet(table, groups, survey, maker, tables.manufacturers.get(maker, maker))
        for maker in makers
    ]


def _sheet(
    table: SummaryTable,
    groups: Sequence[tuple[str, str]],
    survey: Mapping[str, int],
    maker: str | None,
    name: str,
) -> Sheet:
    def count(counts: Mapping[tuple[str, str, int], int], group: str, dose: int) -> int:
        return sum(n for (m, g, d), n in counts.items()
                   if g == group and d == dose and maker in (None, m))  # fmt: skip

    def pairs(group: str) -> tuple[tuple[int, int], ...]:
        return tuple((count(table.today, group, d), count(table.cumulative, group, d))
                     for d in DOSES)  # fmt: skip

    rows = [SheetRow(group, label, survey.get(group), pairs(group)) for group, label in groups]
    known = [row.survey for row in rows if row.survey is not None]
    total = SheetRow(
        "", TOTAL, sum(known) if known else None,
        tuple((sum(r.counts[i][0] for r in rows), sum(r.counts[i][1] for r in rows))
              for i in range(len(DOSES))),
    )  # fmt: skip
    return Sheet(table.day, table.by, name, (*rows, total))


HEADINGS = (
    "接种人群", "疫苗生产企业", "摸底总人数",
    *(f"第{n}剂{kind}" for n in "一二三" for kind in ("当日接种人数", "累计接种人数")),
)  # fmt: skip


def _cells(sheet: Sheet, row: SheetRow) -> list[str]:
    survey = "" if row.survey is None else str(row.survey)
    return [row.label, sheet.manufacturer, survey,
            *(str(n) for pair in row.counts for n in pair)]  # fmt: skip


def sheets_csv(sheets: Sequence[Sheet]) -> str:
    """One CSV: the day, the table and the headings of the form, then every row of every
    sheet (UTF-8; the caller adds a BOM for spreadsheet programs)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["填报日期", "表", *HEADINGS])
    for sheet in sheets:
        for row in sheet.rows:
            writer.writerow([sheet.day.isoformat(), TITLES[sheet.by], *_cells(sheet, row)])
    return out.getvalue()


_STYLE = """
@page { size: A4 landscape; margin: 10mm; }
body { font-family: "Noto Serif CJK SC", "SimSun", serif; font-size: 10pt; margin: 0 auto; }
h1 { font-size: 14pt; text-align: center; margin: 0 0 2mm; }
p.meta { margin: 0 0 2mm; }
table { width: 100%; border-collapse: collapse; margin-bottom: 6mm; }
th, td { border: 0.3mm solid #000; padding: 0.8mm 1.2mm; }
td.n { text-align: right; }
tr.total td { font-weight: bold; }
tbody tr { break-inside: avoid; }
.printed { font-size: 8pt; text-align: right; }
"""


def sheets_html(sheets: Sequence[Sheet], *, unit_name: str, printed_at: datetime) -> str:
    """The sheets as a printable page (A4 landscape), every value escaped."""
    parts = []
    for sheet in sheets:
        head = "".join(f"<th>{escape(h)}</th>" for h in HEADINGS)
        body = []
        for row in sheet.rows:
            cells = _cells(sheet, row)
            tds = "".join(
                f'<td class="n">{escape(c)}</td>' if i >= 2 else f"<td>{escape(c)}</td>"
                for i, c in enumerate(cells)
            )
            css = ' class="total"' if row.label == TOTAL else ""
            body.append(f"<tr{css}>{tds}</tr>")
        zero = "（零报告）" if sheet.zero_report else ""
        parts.append(
            f"<h1>{escape(TITLES[sheet.by])}</h1>\n"
            f'<p class="meta">填报单位：{escape(unit_name)}　填报日期：{sheet.day.isoformat()}'
            f"　疫苗生产企业：{escape(sheet.manufacturer)}{zero}</p>\n"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
    printed = printed_at.astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M")
    return (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">\n'
        f"<title>接种信息汇总表</title>\n<style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(parts)
        + f'\n<p class="printed">打印时间 {escape(printed)}</p>\n</body></html>\n'
    )
