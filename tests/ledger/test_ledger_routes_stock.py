"""Catalogue and stock routes over HTTP: movements, approvals, stocktake, reports, refusals."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.core.clock import FakeClock
from gateway.ledgers.book import LedgerBook
from tests.ledger.conftest import (
    COVID,
    COVID_BATCH,
    HEPB,
    HEPB_BATCH,
    OLD_BATCH,
    SHIPMENT,
    VILLAGE,
    code,
)
from tests.ledger.test_ledger_routes_support import (
    ADMIN,
    COUNTY,
    HEAD,
    MANAGER,
    PERSON,
    VACCINATOR,
    Client,
    counts,
    ok,
    refused,
    registered,
    served,
    stock_in,
)

pytestmark = pytest.mark.asyncio
GS1 = "]d2010690123456789217270103" + "10" + COVID_BATCH + "\x1d21V1"
CSV_HEADER = (
    "trace_code,product_id,vaccine_code,name,manufacturer_code,form,doses_per_vial,"
    "batch_no,production_date,expiry_date,lot_release_no\n"
)


@pytest_asyncio.fixture
async def ledger(tmp_path: Path, clock: FakeClock) -> AsyncIterator[tuple[LedgerBook, Client]]:
    async with served(tmp_path, clock) as pair:
        yield pair


def csv_row(n: int, batch_no: str = HEPB_BATCH) -> str:
    return (
        f"{code(HEPB, n)},{HEPB},0201,乙肝疫苗,M01,注射液,1,{batch_no},"
        "2025-12-01,2027-11-30,SP20250001\n"
    )


async def test_import_json_and_csv_and_batch_fields_refused(
    ledger: tuple[LedgerBook, Client],
) -> None:
    book, client = ledger
    url = "/api/ledger/catalogue/import"
    again = await ok(await client.post(url, json=SHIPMENT, headers=MANAGER), 201)
    assert again == {"products": 2, "batches": 3, "trace_codes": 31}
    headers = {**ADMIN, "Content-Type": "text/csv"}
    await ok(await client.post(url, data=CSV_HEADER + csv_row(500), headers=headers), 201)
    assert book.catalogue.batch(HEPB, HEPB_BATCH) is not None
    before = counts(book)

    trace_as_batch = json.loads(json.dumps(SHIPMENT))
    trace_as_batch["batches"].append(
        {"product_id": HEPB, "batch_no": "81900670270577219264", "production_date": "2025-01-01",
         "expiry_date": "2027-01-01", "lot_release_no": "X1"}
    )  # fmt: skip
    response = await client.post(url, json=trace_as_batch, headers=MANAGER)
    assert "trace code" in await refused(response, 422, "batches[3].batch_no")
    name_as_batch = CSV_HEADER + csv_row(501, batch_no="吉淑琴")
    response = await client.post(url, data=name_as_batch, headers=headers)
    assert "Chinese characters" in await refused(response, 422, "row 2.batch_no")
    response = await client.post(url, data=CSV_HEADER + csv_row(502, "null"), headers=headers)
    assert "placeholder" in await refused(response, 422, "row 2.batch_no")
    response = await client.post(url, data="a,b", headers={**MANAGER, "Content-Type": "text/xml"})
    await refused(response, 415, "content-type")
    response = await client.post(url, data="{nope", headers={**MANAGER, **_json})
    assert "not JSON" in await refused(response, 422, "shipment")
    assert counts(book) == before


_json = {"Content-Type": "application/json"}


async def test_resolve_classifies_and_says_why(ledger: tuple[LedgerBook, Client]) -> None:
    _, client = ledger
    await stock_in(client, 1)
    url = "/api/ledger/resolve"
    found = await ok(await client.post(url, json={"scan": code(HEPB, 1)}, headers=HEAD))
    assert found["kind"] == "trace_code"
    assert found["product"]["name"] == "乙肝疫苗"
    assert found["batch"]["batch_no"] == HEPB_BATCH
    assert found["stock"]["state"] == "in_stock"
    old = await ok(await client.post(url, json={"scan": code(HEPB, 99)}, headers=HEAD))
    assert (old["batch"]["batch_no"], old["batch"]["expired"]) == (OLD_BATCH, True)
    assert old["stock"] == {"state": "not_received"}
    raw = base64.b64encode(GS1.encode()).decode()
    gs1 = await ok(await client.post(url, json={"scan": raw, "encoding": "base64"}, headers=HEAD))
    assert (gs1["kind"], gs1["product"]["product_id"]) == ("gs1", COVID)
    assert gs1["verified"] is False  # the shipment lists no serials of this batch
    assert found["verified"] is True
    unknown = await ok(await client.post(url, json={"scan": code("8190011", 1)}, headers=HEAD))
    assert unknown["refusal"]["field"] == "trace_code"
    assert "not in the local catalogue" in unknown["refusal"]["reason"]
    garbage = await ok(await client.post(url, json={"scan": "hello"}, headers=HEAD))
    assert garbage["kind"] == "unknown"
    assert garbage["refusal"]["field"] == "scan"
    fridge = await ok(
        await client.post(url, json={"scan": f"CCFRIDGE:{'1' * 10}:F1"}, headers=HEAD)
    )
    assert fridge == {"kind": "fridge_label", "unit_code": "1" * 10, "fridge": "F1"}
    person = await ok(await client.post(url, json={"scan": "11010519491231002X"}, headers=HEAD))
    assert person == {"kind": "id_card", "id_number": "1101************2X"}
    bad64 = await client.post(url, json={"scan": "%%", "encoding": "base64"}, headers=HEAD)
    await refused(bad64, 422, "scan")


async def test_receive_twice_not_received_expired_unknown(
    ledger: tuple[LedgerBook, Client],
) -> None:
    book, client = ledger
    url = "/api/ledger/stock/receive"
    first = await ok(
        await client.post(url, json={"scan": code(HEPB, 1), "event_id": "e1"}, headers=MANAGER),
        201,
    )
    assert first == {"event_id": "e1", "kind": "receive", "code": code(HEPB, 1), "duplicate": False,
                     "unverified": False}  # fmt: skip
    before = counts(book)
    same = await client.post(url, json={"scan": code(HEPB, 1), "event_id": "e1"}, headers=MANAGER)
    assert (await ok(same))["duplicate"] is True
    twice = await client.post(url, json={"scan": code(HEPB, 1), "event_id": "e2"}, headers=MANAGER)
    assert "already received" in await refused(twice, 422, "trace_code", "package_already_received")
    expired = await client.post(
        url, json={"scan": code(HEPB, 99), "event_id": "e3"}, headers=MANAGER
    )
    assert "expired" in await refused(expired, 422, "batch_no", "batch_expired")
    unknown = await client.post(
        url, json={"scan": code("8190011", 1), "event_id": "e4"}, headers=MANAGER
    )
    assert "not in the local catalogue" in await refused(
        unknown, 422, "trace_code", "trace_code_unknown"
    )
    unknown_batch = GS1.replace(COVID_BATCH, "C20990101")
    response = await client.post(
        url, json={"scan": unknown_batch, "event_id": "e5"}, headers=MANAGER
    )
    assert "unknown" in await refused(response, 422, "batch_no", "batch_unknown")
    extra = await client.post(
        url, json={"scan": code(HEPB, 2), "event_id": "e6", "batch_no": "X"}, headers=MANAGER
    )
    assert "not a field" in await refused(extra, 422, "batch_no")
    blank = await client.post(url, json={"scan": code(HEPB, 2), "event_id": " "}, headers=MANAGER)
    await refused(blank, 422, "event_id")
    broken = await client.post(url, data=b"{scan", headers={**MANAGER, **_json})
    assert "not valid JSON" in await refused(broken, 400, "body")
    administer = "/api/ledger/stock/administer"
    never = await client.post(
        administer, json={"scan": code(HEPB, 7), "event_id": "a7"}, headers=VACCINATOR
    )
    assert "not received" in await refused(never, 422, "trace_code", "package_not_received")
    assert counts(book) == before


async def test_administer_issue_lifecycle_and_balances(ledger: tuple[LedgerBook, Client]) -> None:
    book, client = ledger
    await stock_in(client, 1, 2)
    administer = "/api/ledger/stock/administer"
    await ok(
        await client.post(administer, json={"scan": code(HEPB, 1), "event_id": "a1"},
                          headers=VACCINATOR),
        201,
    )  # fmt: skip
    before = counts(book)
    used = await client.post(
        administer, json={"scan": code(HEPB, 1), "event_id": "a2"}, headers=VACCINATOR
    )
    assert "used up" in await refused(used, 422, "trace_code", "package_used_up")
    assert counts(book) == before
    issue = {"scan": code(HEPB, 2), "event_id": "i2", "to_unit": VILLAGE}
    await ok(await client.post("/api/ledger/stock/issue", json=issue, headers=MANAGER), 201)
    life = await ok(await client.get(f"/api/ledger/stock/packages/{code(HEPB, 1)}", headers=HEAD))
    assert life["state"] == "used_up"
    assert [m["kind"] for m in life["movements"]] == ["receive", "administer"]
    assert [m["actor"] for m in life["movements"]] == ["wang", "li"]
    issued = await ok(await client.get(f"/api/ledger/stock/packages/{code(HEPB, 2)}", headers=HEAD))
    assert (issued["state"], issued["movements"][-1]["ref"]) == ("issued", VILLAGE)
    response = await client.get(f"/api/ledger/stock/packages/{code(HEPB, 3)}", headers=HEAD)
    assert "never received" in await refused(response, 404, "trace_code")
    balances = await ok(await client.get("/api/ledger/stock/balances", headers=HEAD))
    assert balances["balances"] == [
        {"product_id": HEPB, "name": "乙肝疫苗", "vaccine_code": "0201", "batch_no": HEPB_BATCH,
         "expiry_date": "2027-11-30", "packages": 0, "doses": 0}
    ]  # fmt: skip


async def test_scrap_request_and_decision(ledger: tuple[LedgerBook, Client]) -> None:
    book, client = ledger
    await stock_in(client, 5)
    url = "/api/ledger/stock/requests"
    body = {"kind": "scrap", "scans": [code(HEPB, 5)], "approval_id": "ap1", "reason": "冷链断链",
            "reason_code": "02"}  # fmt: skip
    blank = await client.post(url, json={**body, "reason": "  "}, headers=MANAGER)
    await refused(blank, 422, "reason")
    wrong_kind = await client.post(url, json={**body, "kind": "sell"}, headers=MANAGER)
    await refused(wrong_kind, 422, "kind", "field_not_allowed")
    await ok(await client.post(url, json=body, headers=MANAGER), 201)
    held = await client.post(
        "/api/ledger/stock/administer", json={"scan": code(HEPB, 5), "event_id": "a"},
        headers=VACCINATOR,
    )  # fmt: skip
    assert "held for approval ap1" in await refused(
        held, 422, "trace_code", "package_held_for_approval"
    )
    pending = await ok(await client.get(url, headers=HEAD))
    assert [(r["approval_id"], r["codes"], r["requested_by"], r["decision"])
            for r in pending["requests"]] == [("ap1", [code(HEPB, 5)], "wang", None)]  # fmt: skip
    decide = "/api/ledger/stock/requests/ap1/decision"
    own_head = await client.post(decide, json={"approve": True}, headers=HEAD)
    assert own_head.status == 403, await own_head.text()
    decided = await ok(await client.post(decide, json={"approve": True}, headers=COUNTY))
    assert decided["events"] == [{"event_id": f"ap1:{code(HEPB, 5)}", "kind": "scrap",
                                  "code": code(HEPB, 5)}]  # fmt: skip
    life = await ok(await client.get(f"/api/ledger/stock/packages/{code(HEPB, 5)}", headers=HEAD))
    assert life["state"] == "scrapped"
    assert life["movements"][-1]["ref"] == "approved by county"
    [done] = (await ok(await client.get(url, headers=HEAD)))["requests"]
    assert (done["decision"], done["decided_by"]) == ("approved", "county")
    assert (done["reason_code"], done["to_unit"]) == ("02", "")
    before = counts(book)
    flip = await client.post(decide, json={"approve": False}, headers=COUNTY)
    assert "already approved" in await refused(flip, 409, "approval_id")
    missing = await client.post(
        "/api/ledger/stock/requests/nope/decision", json={"approve": True}, headers=COUNTY
    )
    await refused(missing, 422, "approval_id", "approval_unknown")
    assert counts(book) == before


async def test_stocktake_adjustment_summary_and_wastage(
    ledger: tuple[LedgerBook, Client], clock: FakeClock
) -> None:
    book, client = ledger
    await stock_in(client, 1, 2, 3)
    take = await ok(
        await client.post("/api/ledger/stock/stocktake",
                          json={"scans": [code(HEPB, 1), code(HEPB, 2), code(HEPB, 4)]},
                          headers=MANAGER)
    )  # fmt: skip
    assert take["consistent"] is False
    assert take["missing"] == [code(HEPB, 3)]
    assert take["unexpected"] == [code(HEPB, 4)]
    assert take["book"] == [{"product_id": HEPB, "batch_no": HEPB_BATCH, "packages": 3}]
    url = "/api/ledger/stock/adjustments"
    adjustment = {"product_id": HEPB, "batch_no": HEPB_BATCH, "packages": -1, "doses": -1,
                  "reason": "破损", "event_id": "adj1"}  # fmt: skip
    before = counts(book)
    trace = await client.post(url, json={**adjustment, "batch_no": code(HEPB, 3)}, headers=MANAGER)
    assert "trace code" in await refused(trace, 422, "batch_no")
    name = await client.post(url, json={**adjustment, "batch_no": "张三"}, headers=MANAGER)
    assert "Chinese" in await refused(name, 422, "batch_no")
    unknown = await client.post(url, json={**adjustment, "batch_no": "X2026001"}, headers=MANAGER)
    assert "not in the catalogue" in await refused(unknown, 422, "batch_no", "batch_unknown")
    nothing = await client.post(
        url, json={**adjustment, "packages": 0, "doses": 0}, headers=MANAGER
    )
    await refused(nothing, 422, "packages", "adjustment_empty")
    assert counts(book) == before
    await ok(await client.post(url, json=adjustment, headers=MANAGER), 201)
    balances = await ok(await client.get("/api/ledger/stock/balances", headers=MANAGER))
    assert balances["balances"][0]["packages"] == 2

    await ok(
        await client.post("/api/ledger/stock/administer",
                          json={"scan": code(HEPB, 1), "event_id": "a1"}, headers=VACCINATOR),
        201,
    )  # fmt: skip
    summary_url = "/api/ledger/stock/summary-issue"
    summary = await ok(await client.post(summary_url, json={}, headers=MANAGER), 201)
    line = {"product_id": HEPB, "batch_no": HEPB_BATCH, "doses": 1}
    assert (summary["day"], summary["duplicate"], summary["lines"]) == ("2026-03-02", False, [line])
    again = await ok(await client.post(summary_url, json={"day": "2026-03-02"}, headers=MANAGER))
    assert again == {**summary, "duplicate": True}
    wastage = await ok(await client.get("/api/ledger/stock/wastage", headers=HEAD))
    assert wastage == {"month": "2026-03", "coefficients": {"0201": 1.0}}
    bad = await client.get("/api/ledger/stock/wastage?month=2026-13", headers=HEAD)
    await refused(bad, 400, "month")


async def test_multi_dose_vial_over_http(
    ledger: tuple[LedgerBook, Client], clock: FakeClock
) -> None:
    _, client = ledger
    raw = base64.b64encode(GS1.encode()).decode()
    scan = {"scan": raw, "encoding": "base64"}
    receive = await client.post("/api/ledger/stock/receive", json={**scan, "event_id": "r"},
                                headers=MANAGER)  # fmt: skip
    key = (await ok(receive, 201))["code"]
    await ok(
        await client.post("/api/ledger/stock/administer", json={**scan, "event_id": "a1"},
                          headers=VACCINATOR),
        201,
    )  # fmt: skip
    life = await ok(await client.get(f"/api/ledger/stock/packages/{key}", headers=HEAD))
    assert (life["state"], life["doses_left"]) == ("opened", 1)
    assert life["discard_at"] is not None
    await clock.advance(7 * 3600)
    late = await client.post("/api/ledger/stock/administer", json={**scan, "event_id": "a2"},
                             headers=VACCINATOR)  # fmt: skip
    assert "discard time" in await refused(late, 422, "trace_code", "vial_past_discard_time")


async def test_a_ledger_file_that_fails_answers_503_and_shows_nothing(
    ledger: tuple[LedgerBook, Client],
) -> None:
    book, client = ledger
    await registered(client)
    book.db.conn.execute("DROP TABLE record_reads")
    read = await client.get(f"/api/ledger/recipients/{PERSON['archive_no']}", headers=MANAGER)
    body = await read.json()
    assert (read.status, body["field"]) == (503, "ledger")
    assert "note record read failed" in body["reason"]
    assert "张小三" not in await read.text()
    book.db.conn.execute("DROP TABLE stock_events")
    response = await client.get("/api/ledger/stock/balances", headers=HEAD)
    assert "read balances failed" in await refused(response, 503, "ledger")
    receive = await client.post(
        "/api/ledger/stock/receive", json={"scan": code(HEPB, 1), "event_id": "r"}, headers=MANAGER
    )
    await refused(receive, 503, "ledger")
