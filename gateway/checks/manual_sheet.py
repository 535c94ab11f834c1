"""The month's manual temperature record printed like the paper 温度记录表: HTML and CSV. Pure.

The HTML has no script: print it with the browser's own print command (A4, one compartment a
page).

One page per fridge compartment, one row per day of the month: 日期, 上午 (时间, 温度), 下午
(时间, 温度), 记录人 and 备注. A temperature outside the compartment's band is marked `*`.
Every text from a user is escaped in the HTML; in the CSV, a text a spreadsheet would run as a
formula (starting with = + - @) is prefixed with an apostrophe.
"""

from __future__ import annotations

import calendar
import csv
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from gateway.checks.manual_readings import HalfDay, ManualReading
from gateway.core.clinic_time import CLINIC_TZ

TITLE = "温度记录表"
HEADINGS = ("日期", "上午 时间", "上午 温度(°C)", "下午 时间", "下午 温度(°C)", "记录人", "备注")
EXCURSION_MARK = "*"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_STYLE = """
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 1.5em; }
h1 { font-size: 1.4em; text-align: center; margin: 0 0 .3em; }
.meta { display: flex; flex-wrap: wrap; gap: .3em 2em; margin-bottom: .6em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #000; padding: .15em .4em; text-align: center; font-size: .95em; }
td.note { text-align: left; }
td.excursion { font-weight: bold; color: #b00020; }
.legend { font-size: .85em; margin-top: .4em; }
section { page-break-after: always; break-after: page; }
section:last-child { page-break-after: auto; break-after: auto; }
@page { size: A4 portrait; margin: 12mm; }
@media print { body { margin: 0; } td.excursion { color: #000; } }
"""


@dataclass(frozen=True, slots=True)
class SheetPage:
    """One compartment's month: where it is, its band and its records."""

    ref: str
    fridge_name: str
    compartment_name: str
    min_c: float | None
    max_c: float | None
    records: Sequence[ManualReading]


@dataclass(frozen=True, slots=True)
class _Day:
    day: date
    morning: ManualReading | None
    afternoon: ManualReading | None

    @property
    def recorders(self) -> str:
        names = [item.recorder_name for item in (self.morning, self.afternoon) if item]
        return " / ".join(dict.fromkeys(names))

    @property
    def notes(self) -> str:
        return " / ".join(
            item.note for item in (self.morning, self.afternoon) if item and item.note
        )


def _days(year: int, month: int, records: Sequence[ManualReading]) -> list[_Day]:
    by_half = {(item.day, item.half): item for item in records}
    last = calendar.monthrange(year, month)[1]
    days = [date(year, month, number) for number in range(1, last + 1)]
    return [
        _Day(day, by_half.get((day, HalfDay.MORNING)), by_half.get((day, HalfDay.AFTERNOON)))
        for day in days
    ]


def _band(page: SheetPage) -> str:
    if page.min_c is not None and page.max_c is not None:
        return f"{page.min_c:g} ~ {page.max_c:g} °C"
    if page.max_c is not None:
        return f"≤ {page.max_c:g} °C"
    return f"≥ {page.min_c:g} °C"


def _time(record: ManualReading | None) -> str:
    return "" if record is None else record.taken_at.astimezone(CLINIC_TZ).strftime("%H:%M")


def _temperature(record: ManualReading | None) -> str:
    if record is None:
        return ""
    mark = EXCURSION_MARK if record.excursion else ""
    return f"{record.temperature:.1f}{mark}"


def _cell(record: ManualReading | None) -> str:
    css = ' class="excursion"' if record is not None and record.excursion else ""
    return f"<td>{_time(record)}</td><td{css}>{_temperature(record)}</td>"


def to_html(unit: str, year: int, month: int, pages: Sequence[SheetPage]) -> str:
    """A printable page per compartment (the browser's print makes the paper form)."""
    esc = html.escape
    sections = []
    for page in pages:
        rows = "\n".join(
            f"<tr><td>{row.day.day}日</td>{_cell(row.morning)}{_cell(row.afternoon)}"
            f"<td>{esc(row.recorders)}</td><td class=note>{esc(row.notes)}</td></tr>"
            for row in _days(year, month, page.records)
        )
        sections.append(
            f"""<section>
<h1>{TITLE}</h1>
<div class="meta"><span>单位：{esc(unit)}</span><span>冰箱：{esc(page.fridge_name)}</span>
<span>位置：{esc(page.compartment_name)}</span><span>温度范围：{esc(_band(page))}</span>
<span>{year}年{month}月</span></div>
<table>
<thead>
<tr><th rowspan="2">日期</th><th colspan="2">上午</th><th colspan="2">下午</th>
<th rowspan="2">记录人</th><th rowspan="2">备注</th></tr>
<tr><th>时间</th><th>温度(°C)</th><th>时间</th><th>温度(°C)</th></tr>
</thead>
<tbody>
{rows}
</tbody>
</table>
<p class="legend">{EXCURSION_MARK} 超出温度范围</p>
</section>"""
        )
    body = "\n".join(sections) or "<p>没有配置冰箱。</p>"
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{TITLE} {year}-{month:02d}</title>
<style>{_STYLE}</style>
</head>
<body>
{body}
</body>
</html>
"""


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def to_csv(year: int, month: int, pages: Sequence[SheetPage]) -> str:
    """One row per compartment and day, with a byte-order mark so spreadsheets read UTF-8."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("冰箱/位置", *HEADINGS))
    for page in pages:
        for row in _days(year, month, page.records):
            writer.writerow(
                (
                    page.ref,
                    row.day.isoformat(),
                    _time(row.morning),
                    _temperature(row.morning),
                    _time(row.afternoon),
                    _temperature(row.afternoon),
                    _text(row.recorders),
                    _text(row.notes),
                )
            )
    return out.getvalue()
