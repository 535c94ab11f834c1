"""The daily summary tables as seed 000's 表1/表2: every group, 摸底总人数, 合计, names with codes,
a zero report as a full table; printable page and CSV (issue 16 item 6)."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from gateway.ledgers.book import LedgerBook
from ledger.summaries import SummaryTable
from ledger.summary_sheet import TOTAL, sheets_csv, summary_sheets
from ledger.tables import load_tables
from tests.ledger.test_ledger_routes_records import ledger  # noqa: F401 (the fixture)
from tests.ledger.test_ledger_routes_support import (
    COUNTY,
    HEAD,
    MANAGER,
    Client,
    give,
    ok,
    refused,
    registered,
    stock_in,
)

TABLES = load_tables()
DAY = date(2026, 3, 2)


def test_a_zero_report_is_every_group_with_zeros_and_a_total() -> None:
    empty = SummaryTable(DAY, "crowd_category", {}, {})
    (sheet,) = summary_sheets(empty, TABLES, {"01": 813_400})
    assert sheet.zero_report
    assert len(sheet.rows) == len(TABLES.crowd_categories) + 1
    assert sheet.rows[0].label == "01 医疗卫生人员"
    assert sheet.rows[0].survey == 813_400
    assert sheet.rows[1].survey is None
    assert sheet.rows[-1].label == TOTAL
    assert sheet.rows[-1].survey == 813_400
    assert all(pair == (0, 0) for row in sheet.rows for pair in row.counts)
    (ages,) = summary_sheets(SummaryTable(DAY, "age_group", {}, {}), TABLES, {})
    assert [row.label for row in ages.rows] == [g.label for g in TABLES.age_groups] + [TOTAL]
    assert ages.manufacturer == "全部企业"


def test_by_age_one_sheet_per_manufacturer_with_totals() -> None:
    today = {("M11", "18~44岁", 1): 3, ("M12", "≥70岁", 2): 1}
    cumulative = {("M11", "18~44岁", 1): 10, ("M12", "≥70岁", 2): 4, ("M12", "≥70岁", 1): 6}
    sheets = summary_sheets(SummaryTable(DAY, "age_group", today, cumulative), TABLES, {})
    assert [s.manufacturer for s in sheets] == ["北京科兴中维生物技术有限公司",
                                                "北京生物制品研究所有限责任公司"]  # fmt: skip
    sinovac, bibp = sheets
    assert sinovac.rows[2].counts == ((3, 10), (0, 0), (0, 0))
    assert bibp.rows[-1].counts == ((0, 6), (1, 4), (0, 0))
    crowd = summary_sheets(SummaryTable(DAY, "crowd_category", {("M11", "29", 1): 2},
                                        {("M11", "29", 1): 2, ("M12", "29", 1): 5}),
                           TABLES, {})  # fmt: skip
    assert len(crowd) == 1
    assert crowd[0].rows[28].label == "29 其他人员"
    assert crowd[0].rows[28].counts[0] == (2, 7)
    rows = list(csv.reader(io.StringIO(sheets_csv(sheets))))
    assert rows[0][:5] == ["填报日期", "表", "接种人群", "疫苗生产企业", "摸底总人数"]
    assert len(rows) == 1 + 2 * (len(TABLES.age_groups) + 1)


@pytest.mark.asyncio
async def test_sheet_page_csv_and_survey(ledger: tuple[LedgerBook, Client]) -> None:  # noqa: F811
    _, client = ledger
    await stock_in(client, 1)
    await registered(client)
    await ok(await give(client, 1, 1, "d1"), 201)
    url = "/api/ledger/summaries/sheet?day=2026-03-02"
    survey = {"by": "crowd_category", "counts": {"29": 1200, "01": 300}}
    await ok(await client.put("/api/ledger/summaries/survey", json=survey, headers=MANAGER))
    bad = {"by": "age_group", "counts": {"99岁": 1}}
    await refused(await client.put("/api/ledger/summaries/survey", json=bad, headers=MANAGER),
                  422, "counts")  # fmt: skip
    page = await client.get(f"{url}&by=crowd_category", headers=COUNTY)
    text = await page.text()
    assert page.content_type == "text/html"
    assert "填报单位：演示预防接种门诊" in text
    assert '<tr><td>29 其他人员</td><td>全部企业</td><td class="n">1200</td>' in text
    assert '<tr class="total"><td>合计</td><td>全部企业</td><td class="n">1500</td>' in text
    data = await ok(await client.get(f"{url}&format=json", headers=HEAD))
    (sheet,) = data["sheets"]
    assert sheet["manufacturer"] == "深圳康泰生物制品股份有限公司"
    assert sheet["rows"][-1]["doses"][0] == {"today": 1, "cumulative": 1}
    exported = await client.get(f"{url}&format=csv", headers=HEAD)
    assert exported.content_type == "text/csv"
    body = (await exported.read()).decode("utf-8")
    assert body.startswith("\ufeff填报日期")
    zero = await ok(await client.get(f"{url[:-10]}2026-03-01&format=json", headers=HEAD))
    assert zero["sheets"][0]["zero_report"] is True
    assert len(zero["sheets"][0]["rows"]) == 9
    await refused(await client.get(f"{url}&by=city", headers=HEAD), 400, "by")
