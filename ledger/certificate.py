"""The vaccination certificate (预防接种凭证) of one person as a printable HTML page. Pure.

Data in, one HTML string out: the person, then every dose in force (record status 01) in the
order given, with vaccine, dose, date, batch, manufacturer, site and unit. Names of vaccines,
manufacturers and sites come from the code tables (the code itself when a table lacks it).
Every value is HTML-escaped: names and addresses are typed by people. The page prints on A5
(the booklet) or A4 with the browser's print dialog; no script, no external resources.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from typing import Literal

from gateway.core.clinic_time import CLINIC_TZ
from ledger.tables import ReferenceTables
from ledger.vaccination_records import NORMAL, SEXES, DoseRecord, Recipient

Paper = Literal["A5", "A4"]
PAPERS: tuple[Paper, ...] = ("A5", "A4")

_STYLE = """
@page { size: %(paper)s portrait; margin: 12mm; }
body { font-family: "Noto Serif CJK SC", "Songti SC", "SimSun", serif; color: #000;
       margin: 0 auto; max-width: %(width)s; font-size: 11pt; }
h1 { text-align: center; font-size: 18pt; letter-spacing: 0.3em; margin: 0 0 4mm; }
h2 { font-size: 12pt; margin: 5mm 0 2mm; }
table { width: 100%%; border-collapse: collapse; }
th, td { border: 0.3mm solid #000; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #eee; font-weight: bold; }
table.person th { width: 22%%; }
tbody tr { break-inside: avoid; page-break-inside: avoid; }
thead { display: table-header-group; }
.none { text-align: center; }
.printed { margin-top: 4mm; font-size: 9pt; text-align: right; }
@media print { th { background: none; } .no-print { display: none; } }
"""
_WIDTHS = {"A5": "148mm", "A4": "210mm"}
_DOSE_HEADINGS = ("疫苗名称", "剂次", "接种日期", "疫苗批号", "生产企业", "接种部位", "接种单位")


def _cell(tag: str, value: str) -> str:
    return f"<{tag}>{escape(value)}</{tag}>"


def _row(values: Iterable[str]) -> str:
    return "<tr>" + "".join(_cell("td", value) for value in values) + "</tr>"


def _dose_row(record: DoseRecord, tables: ReferenceTables) -> str:
    vaccine = tables.vaccines.get(record.vaccine_code)
    return _row(
        (
            vaccine.name if vaccine is not None else record.vaccine_code,
            f"第{record.dose_no}剂",
            record.vaccinated_at.astimezone(CLINIC_TZ).date().isoformat(),
            record.batch_no,
            tables.manufacturers.get(record.manufacturer_code, record.manufacturer_code),
            tables.sites.get(record.site_code, record.site_code),
            record.unit_code,
        )
    )


def certificate_html(
    person: Recipient,
    doses: Sequence[DoseRecord],
    tables: ReferenceTables,
    *,
    printed_at: datetime,
    paper: Paper = "A5",
) -> str:
    """The certificate page; `doses` in the order to print, deleted versions are left out."""
    details = (
        ("姓名", person.name),
        ("性别", SEXES.get(person.sex, person.sex)),
        ("出生日期", person.birth_date.isoformat()),
        ("身份证件号码", person.id_number),
        ("档案编号", person.archive_no),
    )
    person_rows = "".join(
        f"<tr>{_cell('th', label)}{_cell('td', value)}</tr>" for label, value in details
    )
    in_force = [record for record in doses if record.status == NORMAL]
    dose_rows = "".join(_dose_row(record, tables) for record in in_force) or (
        f'<tr><td class="none" colspan="{len(_DOSE_HEADINGS)}">无接种记录</td></tr>'
    )
    headings = "".join(_cell("th", heading) for heading in _DOSE_HEADINGS)
    printed = printed_at.astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M")
    style = _STYLE % {"paper": paper, "width": _WIDTHS[paper]}
    return (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">\n'
        f"<title>预防接种凭证 {escape(person.name)}</title>\n<style>{style}</style></head>\n"
        "<body>\n<h1>预防接种凭证</h1>\n"
        f'<h2>受种者信息</h2>\n<table class="person">{person_rows}</table>\n'
        f"<h2>接种记录</h2>\n<table><thead><tr>{headings}</tr></thead>\n"
        f"<tbody>{dose_rows}</tbody></table>\n"
        f'<p class="printed">打印时间 {escape(printed)}</p>\n</body></html>\n'
    )
