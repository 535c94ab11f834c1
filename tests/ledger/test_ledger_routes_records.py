"""Vaccination routes over HTTP: recipients, doses, versions, masking, read audit, certificate,
and the upload views (queue, rejections with kinds, rates, daily summary tables)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from firmware_sim.provincial_platform import ProvincialPlatform, serve
from gateway.core.clock import FakeClock
from gateway.ledgers.book import LedgerBook
from ledger.tables import ReferenceTables
from tests.ledger.conftest import HEPB, HEPB_BATCH, code
from tests.ledger.test_ledger_routes_support import (
    ADMIN,
    COUNTY,
    DOSE,
    HEAD,
    MANAGER,
    PERSON,
    VACCINATOR,
    Client,
    counts,
    give,
    later,
    ok,
    refused,
    registered,
    served,
    stock_in,
)

pytestmark = pytest.mark.asyncio
ARCHIVE = PERSON["archive_no"]


@pytest_asyncio.fixture
async def ledger(tmp_path: Path, clock: FakeClock) -> AsyncIterator[tuple[LedgerBook, Client]]:
    async with served(tmp_path, clock) as pair:
        yield pair


async def test_register_refusals_and_masking(ledger: tuple[LedgerBook, Client]) -> None:
    book, client = ledger
    url = "/api/ledger/recipients"
    before = counts(book)
    wrong_check = {**PERSON, "id_number": "110105194912310021"}
    response = await client.post(url, json=wrong_check, headers=VACCINATOR)
    assert "wrong check digit" in await refused(response, 422, "id_number", "record_invalid")
    both = await (await client.post(url, json={**wrong_check, "crowd_category": "31"},
                                    headers=VACCINATOR)).json()  # fmt: skip
    assert [p["field"] for p in both["problems"]] == ["id_number", "crowd_category"]
    # Each field's problem by its own code, with the values its words need.
    assert [(p["code"], p["params"]) for p in both["problems"]] == [
        ("id_number_invalid", {}), ("not_in_code_table", {"value": "31"})]  # fmt: skip
    bad_sex = await client.post(url, json={**PERSON, "sex": "3"}, headers=VACCINATOR)
    await refused(bad_sex, 422, "sex", "field_not_allowed")  # the body's model refuses it
    assert counts(book) == before

    await registered(client)
    shown = await ok(await client.get(f"{url}/{ARCHIVE}", headers=MANAGER))
    assert (shown["name"], shown["masked"]) == ("张小三", False)
    masked = await ok(await client.get(f"{url}/{ARCHIVE}", headers=COUNTY))
    assert masked["masked"] is True
    assert masked["name"] == "张*三"
    assert masked["id_number"] == "1101************2X"
    assert masked["phone"] == "138****5678"
    assert masked["address"] == "西安市新城******"
    placeholder = {**PERSON, "archive_no": "X2", "id_number": "8" * 18}
    await registered(client, placeholder)
    assert (await ok(await client.get(f"{url}/X2", headers=HEAD)))["id_number"] == "8" * 18
    missing = await client.get(f"{url}/nobody", headers=MANAGER)
    assert "not a registered recipient" in await refused(missing, 404, "archive_no")

    before = counts(book)
    again = await client.post(url, json=PERSON, headers=VACCINATOR)
    assert "PUT" in await refused(again, 409, "archive_no")
    moved = {k: v for k, v in PERSON.items() if k != "archive_no"}
    moved["address"] = "西安市碑林区南大街2号"
    wrong = await client.put(f"{url}/{ARCHIVE}", json={**moved, "id_number": "8" * 17 + "9"},
                             headers=MANAGER)  # fmt: skip
    await refused(wrong, 422, "id_number")
    stranger = await client.put(f"{url}/nobody", json=moved, headers=MANAGER)
    await refused(stranger, 404, "archive_no")
    assert counts(book) == before
    await ok(await client.put(f"{url}/{ARCHIVE}", json=moved, headers=MANAGER))
    assert book.vaccinations.recipient(ARCHIVE).address == moved["address"]
    history = await ok(await client.get(f"{url}/{ARCHIVE}/history", headers=COUNTY))
    assert [(v["version"], v["actor"], v["address"]) for v in history["recipient_versions"]] == [
        (1, "li", "西安市新城******"), (2, "wang", "西安市碑林******")]  # fmt: skip


async def test_doses_scanned_twice_not_received_dose_four(
    ledger: tuple[LedgerBook, Client],
) -> None:
    book, client = ledger
    await stock_in(client, 1, 2, 3, 4)
    await registered(client)
    await registered(client, {**PERSON, "archive_no": "X2", "id_number": "8" * 18})
    for n in (1, 2, 3):
        later(book, days=61)  # the schedule's intervals: 28, then 60 days
        record = await ok(await give(client, n, n, f"d{n}"), 201)
        assert (record["batch_no"], record["trace_code"]) == (HEPB_BATCH, code(HEPB, n))
        assert record["vaccinator"] == "li"
        assert record["unit_code"] == "6101030203"
    before = counts(book)
    again = await ok(await give(client, 1, 1, "d1"))
    assert (again["duplicate"], again["version"]) == (True, 1)
    fourth = await give(client, 4, 4, "d4")
    assert "3-dose schedule" in await refused(fourth, 422, "dose_no", "record_invalid")
    assert (await fourth.json())["problems"][0]["code"] == "dose_beyond_schedule"
    assert (await fourth.json())["params"] == {
        "dose_no": 4,
        "doses": 3,
        "vaccine": "乙肝疫苗(10μg酿酒酵母)",
    }
    twice = await give(client, 1, 1, "dx", archive_no="X2")
    assert "used up" in await refused(twice, 422, "trace_code", "package_used_up")
    assert (await twice.json())["params"] == {"code": code(HEPB, 1)}
    not_received = await give(client, 9, 1, "d9", archive_no="X2")
    assert "not received" in await refused(not_received, 422, "trace_code", "package_not_received")
    stranger = await client.post(
        "/api/ledger/doses",
        json={**DOSE, "archive_no": "nobody", "scan": code(HEPB, 4), "event_id": "d5",
              "dose_no": 1},
        headers=VACCINATOR,
    )  # fmt: skip
    await refused(stranger, 422, "archive_no")
    wrong_maker = await client.post(
        "/api/ledger/doses",
        json={**DOSE, "manufacturer_code": "M13", "scan": code(HEPB, 4), "event_id": "d6",
              "dose_no": 1},
        headers=VACCINATOR,
    )  # fmt: skip
    assert "M13" in await refused(wrong_maker, 422, "manufacturer_code", "record_invalid")
    assert (await wrong_maker.json())["problems"][0]["code"] == "manufacturer_mismatch"
    assert counts(book) == before


async def test_corrections_deletions_history_and_audit(
    ledger: tuple[LedgerBook, Client],
) -> None:
    book, client = ledger
    await stock_in(client, 1)
    await registered(client)
    await ok(await give(client, 1, 1, "d1"), 201)
    url = "/api/ledger/doses/d1"
    before = counts(book)
    batch = await client.post(f"{url}/correction", json={"reason": "x", "changes": {
        "batch_no": "123"}}, headers=MANAGER)  # fmt: skip
    assert "not a field" in await refused(batch, 422, "changes.batch_no")
    empty = await client.post(f"{url}/correction", json={"reason": "x", "changes": {}},
                              headers=MANAGER)  # fmt: skip
    await refused(empty, 422, "changes")
    no_reason = await client.post(f"{url}/correction", json={"reason": " ", "changes": {
        "site_code": "2"}}, headers=MANAGER)  # fmt: skip
    await refused(no_reason, 422, "reason", "field_invalid")
    bad_site = await client.post(f"{url}/correction", json={"reason": "部位", "changes": {
        "site_code": "99"}}, headers=MANAGER)  # fmt: skip
    await refused(bad_site, 422, "site_code")
    assert counts(book) == before

    corrected = await ok(await client.post(f"{url}/correction", json={
        "reason": "部位录错", "changes": {"site_code": "2"}}, headers=MANAGER), 201)  # fmt: skip
    assert (corrected["version"], corrected["status"], corrected["site_code"]) == (2, "01", "2")
    deleted = await ok(await client.post(f"{url}/deletion", json={"reason": "重复录入"},
                                         headers=VACCINATOR), 201)  # fmt: skip
    assert (deleted["version"], deleted["status"]) == (3, "02")
    gone = await client.post(f"{url}/deletion", json={"reason": "again"}, headers=VACCINATOR)
    assert "deleted" in await refused(gone, 422, "record_id", "dose_deleted")
    reasons = [row[0] for row in book.db.conn.execute(
        "SELECT reason FROM record_versions WHERE record_id = 'd1' ORDER BY version")]  # fmt: skip
    assert reasons == ["recorded", "部位录错", "重复录入"]

    versions = await ok(await client.get(f"{url}?purpose=核对", headers=HEAD))
    assert [(v["version"], v["status"], v["actor"]) for v in versions["versions"]] == [
        (1, "01", "li"), (2, "01", "wang"), (3, "02", "li")]  # fmt: skip
    assert versions["versions"][0]["recipient"]["name"] == "张*三"
    history = await ok(await client.get(f"/api/ledger/recipients/{ARCHIVE}/history",
                                        headers=VACCINATOR))  # fmt: skip
    assert [(d["record_id"], d["status"]) for d in history["doses"]] == [("d1", "02")]
    day = await ok(await client.get("/api/ledger/doses?day=2026-03-02", headers=MANAGER))
    assert [d["record_id"] for d in day["doses"]] == ["d1"]
    assert (await ok(await client.get("/api/ledger/doses?day=2026-03-01", headers=MANAGER))) == {
        "day": "2026-03-01", "doses": []}  # fmt: skip
    await refused(await client.get("/api/ledger/doses?day=yesterday", headers=MANAGER), 400, "day")
    await refused(await client.get("/api/ledger/doses/nope", headers=MANAGER), 404, "record_id")

    audit = "/api/ledger/audit/reads"
    await refused_plain(await client.get(audit, headers=MANAGER), 403)
    reads = (await ok(await client.get(audit, headers=ADMIN)))["reads"]
    assert [(r["reader"], r["what"], r["archive_no"], r["record_id"], r["purpose"])
            for r in reads] == [
        ("zhao", "record", ARCHIVE, "d1", "核对"),
        ("li", "history", ARCHIVE, "", ""),
        ("wang", "day_list", "", "", ""),
        ("wang", "day_list", "", "", ""),
    ]  # fmt: skip
    by_li = await ok(await client.get(f"{audit}?reader=li", headers=COUNTY))
    assert [r["what"] for r in by_li["reads"]] == ["history"]
    after = await ok(await client.get(f"{audit}?after={reads[0]['seq']}&limit=1", headers=ADMIN))
    assert [r["seq"] for r in after["reads"]] == [reads[1]["seq"]]
    await refused(await client.get(f"{audit}?limit=0", headers=ADMIN), 400, "limit")


async def refused_plain(response: aiohttp.ClientResponse, status: int) -> None:
    assert response.status == status
    assert "error" in await response.json()


async def test_certificate_is_printable_and_escaped(ledger: tuple[LedgerBook, Client]) -> None:
    book, client = ledger
    await stock_in(client, 1, 2)
    hostile = {**PERSON, "name": "<script>alert(1)</script>",
               "address": '"><img src=x onerror=alert(2)>'}  # fmt: skip
    await registered(client, hostile)
    await ok(await give(client, 1, 1, "d1"), 201)
    later(book, days=28)
    await ok(await give(client, 2, 2, "d2"), 201)
    await ok(await client.post("/api/ledger/doses/d2/deletion", json={"reason": "录错"},
                               headers=VACCINATOR), 201)  # fmt: skip
    url = f"/api/ledger/recipients/{ARCHIVE}/certificate"
    response = await client.get(url, headers=VACCINATOR)
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "预防接种凭证" in page
    assert "size: A5" in page
    assert "乙肝疫苗(10μg酿酒酵母)" in page
    assert "深圳康泰生物制品股份有限公司" in page
    assert HEPB_BATCH in page
    assert "<tr><td>1</td><td>乙肝疫苗(10μg酿酒酵母)</td><td>第1剂</td><td>2026-03-02</td>" in page
    assert "<td>第2剂</td><td>2026-03-30</td></tr>" in page  # dose 2 deleted: due again
    assert page.count("第2剂") == 1
    assert "联系电话 Mobile phone</th><td>13812345678</td>" in page
    assert "家庭住址 Current Address" in page
    assert "发证单位 Clinic：演示预防接种门诊" in page  # the clinic's name, not its code
    assert "<td>演示预防接种门诊</td>" in page
    masked = await (await client.get(f"{url}?paper=A4", headers=COUNTY)).text()
    assert "size: A4" in masked
    assert "1101************2X" in masked
    assert "11010519491231002X" not in masked
    await refused(await client.get(f"{url}?paper=B5", headers=COUNTY), 400, "paper")
    reads = book.db.conn.execute("SELECT reader, what FROM record_reads ORDER BY seq").fetchall()
    assert reads == [("li", "certificate"), ("county", "certificate")]


async def test_reads_need_sign_in_and_unaudited_reads_are_refused(
    ledger: tuple[LedgerBook, Client],
) -> None:
    book, client = ledger
    await registered(client)
    await refused_plain(await client.get(f"/api/ledger/recipients/{ARCHIVE}"), 401)
    too_long = "x" * 201
    response = await client.get(f"/api/ledger/recipients/{ARCHIVE}?purpose={too_long}",
                                headers=MANAGER)  # fmt: skip
    await refused(response, 400, "purpose")
    assert book.db.conn.execute("SELECT COUNT(*) FROM record_reads").fetchone() == (0,)


@pytest_asyncio.fixture
async def platform() -> AsyncIterator[tuple[ProvincialPlatform, str]]:
    fake = ProvincialPlatform()
    runner, port = await serve(fake)
    try:
        yield fake, f"http://127.0.0.1:{port}/upload"
    finally:
        await runner.cleanup()


async def test_upload_views_and_summaries(
    tmp_path: Path, clock: FakeClock, tables: ReferenceTables,
    platform: tuple[ProvincialPlatform, str],
) -> None:  # fmt: skip
    fake, url = platform
    hepb = dataclasses.replace(tables.vaccines["0201"], manufacturers=frozenset({"M02"}))
    fake.tables = dataclasses.replace(tables, vaccines={**tables.vaccines, "0201": hepb})
    async with served(tmp_path, clock, url) as (book, client):
        await stock_in(client, 1, 2)
        await registered(client)
        await ok(await give(client, 1, 1, "d1"), 201)
        queue = await ok(await client.get("/api/ledger/upload/queue", headers=HEAD))
        assert queue["pending"] == [{"record_id": "d1", "version": 1}]
        assert queue["deadline_alarms"] == []
        async with aiohttp.ClientSession() as session:
            outcome = await book.uploader.send_due(session)
        assert outcome.rejected == 3  # the dose, and the receipts of its two packages
        rejected = await ok(await client.get("/api/ledger/upload/rejections", headers=COUNTY))
        assert rejected["rejections"][0] == {
            "record_id": "d1", "version": 1, "message": "疫苗生产企业和疫苗不匹配",
            "kind": "mismatch", "type": "dose"}  # fmt: skip
        assert [r["type"] for r in rejected["rejections"]] == ["dose", "receive", "receive"]
        assert rejected["by_kind"] == {"mismatch": 3}
        assert rejected["by_type"] == {"dose": 1, "receive": 2}
        rates = await ok(await client.get("/api/ledger/upload/rates?day=2026-03-02", headers=HEAD))
        assert (rates["records"], rates["uploaded"], rates["upload_rate"]) == (1, 0, 0.0)

        await clock.advance(28 * 24 * 3600)  # dose 2 of hepatitis B: 28 days after dose 1
        await ok(await give(client, 2, 2, "d2"), 201)
        summary = await ok(await client.get("/api/ledger/summaries?day=2026-03-30",
                                            headers=COUNTY))  # fmt: skip
        by_age = summary["tables"]["age_group"]
        assert by_age["zero_report"] is False
        assert by_age["rows"] == [
            {"manufacturer_code": "M01", "group": "≥70岁", "dose": 1, "today": 0, "cumulative": 1},
            {"manufacturer_code": "M01", "group": "≥70岁", "dose": 2, "today": 1, "cumulative": 1},
        ]  # fmt: skip
        assert summary["tables"]["crowd_category"]["rows"][1]["group"] == "29"
        zero = await ok(await client.get("/api/ledger/summaries?day=2026-03-01", headers=HEAD))
        assert zero["tables"]["age_group"] == {
            "by": "age_group", "zero_report": True, "due_at": "2026-03-02T12:00:00+08:00",
            "rows": []}  # fmt: skip
        await refused_plain(await client.get("/api/ledger/upload/queue", headers=VACCINATOR), 403)


async def test_code_tables_list_each_table_with_chinese_names(
    ledger: tuple[LedgerBook, Client],
) -> None:
    _, client = ledger
    body = await ok(await client.get("/api/ledger/code-tables", headers=VACCINATOR))
    tables = body["tables"]
    assert {"crowd_category", "household_county", "current_area", "marital_status", "occupation",
            "site_code", "vaccination_type", "vaccine_attribute"} <= set(tables)  # fmt: skip
    assert {"code": "03", "name": "应急"} in tables["vaccination_type"]
    assert {"code": "20", "name": "已婚"} in tables["marital_status"]
    assert all(len(row["code"]) == 6 for row in tables["household_county"])
    hepb = next(v for v in body["vaccines"] if v["code"] == "0201")
    assert "04" not in hepb["vaccination_types"]
    assert "06" not in hepb["vaccine_attributes"]
