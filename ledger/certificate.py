"""The vaccination certificate (预防接种凭证) of one person as a printable HTML page. Pure.

Data in, one HTML string out, in the reference format of seed 000 (附件2 预防接种凭证): the
person (受种者编码, 身份证件号码, 姓名, 出生日期, 性别, 联系电话, 家庭住址), then every dose in
force (record status 01) in the order given with its 序号, vaccine, dose, date, batch, manufacturer
and the unit that gave it by name, the next dose due of each schedule not complete, the note
and 发证单位 (the clinic's name). Names of vaccines and manufacturers come from the code tables,
units' from `unit_names` (the code itself when a table lacks it).
Every value is HTML-escaped: names and addresses are typed by people. The page prints on A5
(the booklet) or A4 with the browser's print dialog; no script, no external resources.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Literal

from gateway.core.clinic_time import CLINIC_TZ
from ledger.tables import ReferenceTables
from ledger.vaccination_records import NORMAL, SEXES, DoseRecord, NextDose, Recipient

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
_DOSE_HEADINGS = (
    "序号 NO", "疫苗名称 Vaccine", "剂次 Dose", "接种日期 Date", "疫苗批号 Lot#",
    "生产企业 Manufacturer", "接种单位 Clinic",
)  # fmt: skip
_NEXT_HEADINGS = ("疫苗名称 Vaccine", "剂次 Dose", "最早接种日期 Due from")
NOTE = "注：此凭证请受种者妥善保管，以备查验。"


def _cell(tag: str, value: str) -> str:
    return f"<{tag}>{escape(value)}</{tag}>"


def _row(values: Iterable[str]) -> str:
    return "<tr>" + "".join(_cell("td", value) for value in values) + "</tr>"


def _dose_row(
    number: int, record: DoseRecord, tables: ReferenceTables, unit_names: Mapping[str, str]
) -> str:
    vaccine = tables.vaccines.get(record.vaccine_code)
    return _row(
        (
            str(number),
            vaccine.name if vaccine is not None else record.vaccine_code,
            f"第{record.dose_no}剂",
            record.vaccinated_at.astimezone(CLINIC_TZ).date().isoformat(),
            record.batch_no,
            tables.manufacturers.get(record.manufacturer_code, record.manufacturer_code),
            unit_names.get(record.unit_code, record.unit_code),
        )
    )


def _next_rows(due: Sequence[NextDose]) -> str:
    if not due:
        return ""
    rows = "".join(_row((d.vaccine_name, f"第{d.dose_no}剂", d.due.isoformat())) for d in due)
    headings = "".join(_cell("th", heading) for heading in _NEXT_HEADINGS)
    return (
        f'<h2>下次接种 Next dose</h2>\n<table class="next"><thead><tr>{headings}</tr></thead>'
        f"<tbody>{rows}</tbody></table>\n"
    )


def certificate_html(
    person: Recipient,
    doses: Sequence[DoseRecord],
    tables: ReferenceTables,
    *,
    printed_at: datetime,
    issuer: str,
    unit_names: Mapping[str, str],
    next_due: Sequence[NextDose] = (),
    paper: Paper = "A5",
) -> str:
    """The certificate page; `doses` in the order to print, deleted versions are left out;
    `issuer` is 发证单位, the clinic's name."""
    details = (
        ("受种者编码 Code", person.archive_no),
        ("身份证件号码 ID or others", person.id_number),
        ("受种者姓名 Name", person.name),
        ("出生日期 Date of birth", person.birth_date.isoformat()),
        ("性别 Gender", SEXES.get(person.sex, person.sex)),
        ("联系电话 Mobile phone", person.phone),
        ("家庭住址 Current Address", person.address),
    )
    person_rows = "".join(
        f"<tr>{_cell('th', label)}{_cell('td', value)}</tr>" for label, value in details
    )
    in_force = [record for record in doses if record.status == NORMAL]
    dose_rows = "".join(
        _dose_row(number, record, tables, unit_names)
        for number, record in enumerate(in_force, start=1)
    ) or (f'<tr><td class="none" colspan="{len(_DOSE_HEADINGS)}">无接种记录</td></tr>')
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
        f"{_next_rows(next_due)}"
        f'<p class="note">{NOTE}</p>\n'
        f'<p class="issuer">发证单位 Clinic：{escape(issuer)}</p>\n'
        f'<p class="printed">打印时间 {escape(printed)}</p>\n</body></html>\n'
    )
