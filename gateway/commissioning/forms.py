"""The audit log printed as the paper forms of seed 002 (附表1-5): CSV and a printable page.

Each form keeps the columns and headings of the paper one, followed by the date (local time at
the clinic) and the person who filled it in (填报人), which the paper leaves to a signature.
附表2 and 附表3 describe the gateway as configured now: 附表3 lists every probe of the
configuration (whichever way it was bound), with the install form that bound it when there is
one. 附表4 says whether the fridge was stopped too: yes when the configuration no longer has that
compartment, or has it without any probe.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.auth.accounts import AccountChange
from gateway.commissioning.change_plan import fridge_label, probe_label
from gateway.core.clinic_time import CLINIC_TZ
from gateway.settings import Settings
from gateway.storage.commissioning import Change, FormKind

UNIT_HEADING = "单位名称及单位编码（十位数）"
SIGNED = ("日期", "填报人")


@dataclass(frozen=True, slots=True)
class FormTable:
    number: int
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _unit(change: Change) -> str:
    return f"{change.unit_name} {change.unit_code}"


def _signed(change: Change) -> tuple[str, str]:
    return change.at.astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M"), change.who


def parameter_change(changes: Sequence[Change]) -> FormTable:
    kinds = {FormKind.REPLACE, FormKind.MOVE, FormKind.RENAME, FormKind.PROBE_COUNT}
    return FormTable(
        1,
        "冷链设备参数变更申请单",
        (
            UNIT_HEADING,
            "变更前的冰箱名称",
            "现使用的冰箱名称",
            "更改前使用探头编码",
            "现使用的探头编码",
            "备注",
            *SIGNED,
        ),
        tuple(
            (
                _unit(change),
                change.old_fridge or "",
                change.new_fridge or "",
                change.old_probe or "",
                change.new_probe or "",
                change.note,
                *_signed(change),
            )
            for change in changes
            if change.form in kinds
        ),
    )


def hardware_install(settings: Settings) -> FormTable:
    """附表2 as the gateway stands now: its fridges, this gateway, its probes."""
    return FormTable(
        2,
        "冷链监测设备安装申请单（硬件）",
        (UNIT_HEADING, "冰箱个数", "网关个数", "探头个数"),
        (
            (
                f"{settings.unit.name} {settings.unit.code}",
                f"{len(settings.fridges)}个冰箱",
                "1个网关",
                f"{len(settings.probes)}个探头",
            ),
        ),
    )


def software_install(changes: Sequence[Change], settings: Settings) -> FormTable:
    """附表3: every probe of the configuration, with the date and 填报人 of the latest install
    form that bound it (blank for a probe configured by hand)."""
    installed = {
        change.new_probe: change
        for change in changes
        if change.form is FormKind.INSTALL and change.new_probe
    }
    unit = f"{settings.unit.name} {settings.unit.code}"
    rows = []
    for probe in settings.probes:
        label = probe_label(settings, probe.code, probe.compartment)
        change = installed.get(label)
        rows.append(
            (
                unit,
                fridge_label(settings, probe.compartment),
                settings.gateway.number,
                label,
                *(_signed(change) if change is not None else ("", "")),
            )
        )
    return FormTable(
        3,
        "冷链监测设备安装申请单（软件）",
        (UNIT_HEADING, "冰箱名称", "网关号", "探头编码", *SIGNED),
        tuple(rows),
    )


def decommission(changes: Sequence[Change], settings: Settings) -> FormTable:
    """附表4: each decommissioned probe, and whether its fridge (compartment) is stopped: it
    is when the configuration has no probe left in it, or no longer has it."""
    watched = set()
    for probe in settings.probes:
        try:
            watched.add(fridge_label(settings, probe.compartment))
        except LookupError:
            continue
    return FormTable(
        4,
        "冷链监测设备停用申请单",
        (UNIT_HEADING, "单位使用的冰箱", "是否停用", "单位使用的探头", "是否停用", *SIGNED),
        tuple(
            (
                _unit(change),
                change.old_fridge or "",
                "否" if change.old_fridge in watched else "是",
                change.old_probe or "",
                "是",
                *_signed(change),
            )
            for change in changes
            if change.form is FormKind.DECOMMISSION
        ),
    )


def all_forms(changes: Sequence[Change], settings: Settings) -> list[FormTable]:
    return [
        parameter_change(changes),
        hardware_install(settings),
        software_install(changes, settings),
        decommission(changes, settings),
    ]


def render_csv(table: FormTable) -> str:
    """One form as CSV with a byte-order mark, so spreadsheet programs read the Chinese."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(table.headers)
    writer.writerows(table.rows)
    return buffer.getvalue()


_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>冷链监测设备申请单 {unit}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
section {{ page-break-after: always; margin-bottom: 2em; }}
h2 {{ text-align: center; }}
p.region {{ text-align: center; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #000; padding: .3em .5em; text-align: center; }}
p.sign {{ text-align: right; margin-top: 1.5em; }}
</style></head><body>
{sections}
</body></html>
"""


def render_html(tables: Sequence[FormTable], settings: Settings) -> str:
    """The forms as one printable page, one form per sheet; every value is escaped."""
    region = html.escape(settings.unit.region_code)
    sections = []
    for table in tables:
        head = "".join(f"<th>{html.escape(cell)}</th>" for cell in table.headers)
        body = (
            "".join(
                "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                for row in table.rows
            )
            or f'<tr><td colspan="{len(table.headers)}">（无）</td></tr>'
        )
        sections.append(
            f"<section><p>附表 {table.number}</p><h2>{html.escape(table.title)}</h2>"
            f'<p class="region">行政区划代码 {region}</p>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            '<p class="sign">填报人：＿＿＿＿＿＿　填报人联系电话：＿＿＿＿＿＿</p></section>'
        )
    return _PAGE.format(unit=html.escape(settings.unit.name), sections="\n".join(sections))


_KINDS = ("新增", "删除", "关闭", "修改")


def render_user_changes(changes: Sequence[AccountChange], unit_name: str, unit_code: str) -> str:
    """附表5 系统用户变更申请表, one sheet per account change (newest first as given): the unit,
    who applied, the kind ticked, the user before and after, the date of the change (local
    time); the signatures are left to the paper. Every value is escaped."""
    unit = html.escape(f"{unit_name} {unit_code}".strip())
    sheets = []
    for change in changes:
        kinds = "　".join(("☑" if kind == change.kind else "□") + kind for kind in _KINDS)
        local = change.at.astimezone(CLINIC_TZ)
        sheets.append(
            "<section><p>附表 5</p><h2>系统用户变更申请表</h2>"
            f"<p>申请人单位名称：{unit}　所在部门：＿＿＿＿</p>"
            f"<p>申请人姓名：{html.escape(change.by)}　电话：＿＿＿＿　E-Mail：＿＿＿＿</p>"
            f"<p>变更类型：{kinds}</p>"
            "<table><thead><tr><th>变更前</th><th>变更后</th></tr></thead><tbody><tr>"
            f"<td>用户名称：{html.escape(change.account)} {html.escape(change.before)}</td>"
            f"<td>用户名称：{html.escape(change.account)} {html.escape(change.after)}</td>"
            "</tr></tbody></table>"
            '<p class="sign">申请人/部门领导签字：＿＿＿＿'
            "　申请人所在单位主管领导签字：＿＿＿＿</p>"
            '<p class="sign">系统管理员签字：＿＿＿＿　批准单位主管领导签字：＿＿＿＿</p>'
            f"<p>变更时间：{local:%Y}年{local:%m}月{local:%d}日 {local:%H:%M}</p></section>"
        )
    body = "\n".join(sheets) or "<p>（无用户变更）</p>"
    return _PAGE.format(unit=html.escape(unit_name), sections=body)
