"""The 接种登记表 by day and batch (seed 000 附2): one table per vaccine and batch with its expiry,
every dose of the day in force, personal data masked for readers who may not see it."""

from __future__ import annotations

import pytest

from gateway.ledgers.book import LedgerBook
from tests.ledger.conftest import COVID, COVID_BATCH, HEPB_BATCH, code
from tests.ledger.test_ledger_routes_records import ledger  # noqa: F401 (the fixture)
from tests.ledger.test_ledger_routes_support import (
    COUNTY,
    DOSE,
    PERSON,
    VACCINATOR,
    Client,
    give,
    ok,
    registered,
    stock_in,
)

pytestmark = pytest.mark.asyncio


async def test_register_by_day_and_batch(ledger: tuple[LedgerBook, Client]) -> None:  # noqa: F811
    book, client = ledger
    await stock_in(client, 1)
    await stock_in(client, 1, product=COVID)
    await registered(client)
    await registered(client, {**PERSON, "archive_no": "X2", "id_number": "8" * 18,
                              "name": "李四", "phone": "13900001111"})  # fmt: skip
    await ok(await give(client, 1, 1, "d1"), 201)
    covid = {**DOSE, "archive_no": "X2", "scan": code(COVID, 1), "event_id": "c1", "dose_no": 1,
             "manufacturer_code": "M13", "vaccination_type": "群体",
             "vaccine_attribute": "群体性预防接种疫苗"}  # fmt: skip
    await ok(await client.post("/api/ledger/doses", json=covid, headers=VACCINATOR), 201)
    url = "/api/ledger/register?day=2026-03-02"
    response = await client.get(url, headers=VACCINATOR)
    page = await response.text()
    assert response.content_type == "text/html", page
    assert page.count("<h1>预防接种登记表</h1>") == 2  # two batches, two tables
    assert "<span>批号：202512A01</span><span>有效期：2027-11-30</span>" in page
    assert f"<span>批号：{COVID_BATCH}</span><span>有效期：2027-01-03</span>" in page
    assert "<span>接种单位名称：演示预防接种门诊</span>" in page
    assert "<td>1</td><td>李四</td><td>女</td><td>1949-12-31</td><td></td>" in page
    assert "<td>29 其他人员</td><td>13900001111</td><td>1</td><td>li</td><td></td></tr>" in page
    one = await (await client.get(f"{url}&batch={HEPB_BATCH}", headers=VACCINATOR)).text()
    assert one.count("<h1>预防接种登记表</h1>") == 1
    masked = await (await client.get(url, headers=COUNTY)).text()
    assert "李四" not in masked
    assert "139****1111" in masked
    none = await (await client.get("/api/ledger/register?day=2026-03-01", headers=COUNTY)).text()
    assert "2026-03-01 无接种记录" in none
    reads = book.db.conn.execute("SELECT reader, what FROM record_reads").fetchall()
    assert ("county", "register") in reads
