"""The 接种登记表 of one day (seed 000 附2, the reference format of 新冠病毒疫苗预防接种登记表)
as a printable page. Pure.

One table per vaccine, manufacturer and batch (注 a: 不同批号疫苗须单独填写表格), headed by the
clinic, vaccine, manufacturer, batch, expiry and day; a row per dose in force in the order given:
序号, 姓名, 性别, 出生日期, 工作单位 (left blank: not collected), 人群分类 (name and code),
联系电话, 接种剂次, 接种人员 and an empty cell for the signature of the person or guardian. Every
value is HTML-escaped; the caller masks personal data for readers who may not see it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from html import escape

from gateway.core.clinic_time import CLINIC_TZ
from ledger.tables import ReferenceTables
from ledger.vaccination_records import NORMAL, SEXES, DoseRecord

HEADINGS = ("序号", "姓名", "性别", "出生日期", "工作单位", "人群分类", "联系电话",
            "接种剂次", "接种人员", "受种者/监护人签名")  # fmt: skip
_STYLE = """
@page { size: A4 landscape; margin: 10mm; }
body { font-family: "Noto Serif CJK SC", "SimSun", serif; font-size: 10pt; margin: 0 auto; }
h1 { font-size: 14pt; text-align: center; margin: 0 0 2mm; }
section { break-after: page; }
section:last-of-type { break-after: auto; }
p.head span { margin-right: 5mm; }
table { width: 100%; border-collapse: collapse; }
th, td { border: 0.3mm solid #000; padding: 1mm 1.5mm; height: 7mm; }
tbody tr { break-inside: avoid; }
.printed { font-size: 8pt; text-align: right; }
"""
Batch = tuple[str, str, str]  # vaccine code, manufacturer code, batch number


def register_html(
    records: Iterable[DoseRecord], day: date, tables: ReferenceTables, *, unit_name: str,
    expiry_of: Callable[[str, str], date | None], printed_at: datetime,
    batch_no: str | None = None,
) -> str:  # fmt: skip
    """The day's register; `expiry_of(vaccine_code, batch_no)` from the catalogue; `batch_no`
    prints that batch alone."""
    sheets: dict[Batch, list[DoseRecord]] = {}
    for record in records:
        local = record.vaccinated_at.astimezone(CLINIC_TZ).date()
        if record.status != NORMAL or local != day:
            continue
        if batch_no is not None and record.batch_no != batch_no:
            continue
        key = (record.vaccine_code, record.manufacturer_code, record.batch_no)
        sheets.setdefault(key, []).append(record)
    parts = [
        _sheet(key, doses, day, tables, unit_name=unit_name, expiry=expiry_of(key[0], key[2]))
        for key, doses in sorted(sheets.items())
    ] or [f"<p>{day.isoformat()} 无接种记录</p>"]
    printed = printed_at.astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M")
    return (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">\n'
        f"<title>预防接种登记表 {day.isoformat()}</title>\n<style>{_STYLE}</style></head>\n"
        "<body>\n" + "\n".join(parts)
        + f'\n<p class="printed">打印时间 {escape(printed)}</p>\n</body></html>\n'
    )  # fmt: skip


def _sheet(
    key: Batch, doses: list[DoseRecord], day: date, tables: ReferenceTables, *,
    unit_name: str, expiry: date | None,
) -> str:  # fmt: skip
    vaccine_code, maker, batch = key
    vaccine = tables.vaccines.get(vaccine_code)
    head = (
        ("接种单位名称", unit_name),
        ("疫苗名称", vaccine.name if vaccine is not None else vaccine_code),
        ("生产企业", tables.manufacturers.get(maker, maker)),
        ("批号", batch),
        ("有效期", expiry.isoformat() if expiry is not None else ""),
        ("接种日期", day.isoformat()),
    )
    spans = "".join(f"<span>{escape(k)}：{escape(v)}</span>" for k, v in head)
    rows = "".join(_row(number, record, tables) for number, record in enumerate(doses, 1))
    headings = "".join(f"<th>{escape(h)}</th>" for h in HEADINGS)
    return (
        "<section><h1>预防接种登记表</h1>\n"
        f'<p class="head">{spans}</p>\n'
        f"<table><thead><tr>{headings}</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _row(number: int, record: DoseRecord, tables: ReferenceTables) -> str:
    person = record.recipient
    crowd = tables.crowd_categories.get(person.crowd_category, "")
    cells = (
        str(number), person.name, SEXES.get(person.sex, person.sex),
        person.birth_date.isoformat(), "", f"{person.crowd_category} {crowd}".strip(),
        person.phone, str(record.dose_no), record.vaccinator, "",
    )  # fmt: skip
    return "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>"
