"""Catalogue import and the stock ledger: lifecycle, idempotency, approvals, vials, reports."""

from __future__ import annotations

import json
from datetime import date

import pytest

from gateway.core.clock import FakeClock
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.ledger.stock_values import IN_STOCK, OPENED, SCRAPPED, USED_UP
from ledger.errors import CatalogueError, LedgerError
from ledger.stock_errors import StockError
from tests.ledger.conftest import COVID, COVID_BATCH, HEPB, HEPB_BATCH, SHIPMENT, code


def test_import_is_all_or_nothing(db: object, catalogue: Catalogue) -> None:
    bad = json.loads(json.dumps(SHIPMENT))
    bad["products"][0]["product_id"] = "8190099"
    bad["batches"].append({"product_id": HEPB, "batch_no": "81900670270577219264",
                           "production_date": "2025-01-01", "expiry_date": "2027-01-01",
                           "lot_release_no": "X1"})  # fmt: skip
    with pytest.raises(CatalogueError) as caught:
        catalogue.import_json(json.dumps(bad))
    assert caught.value.field == "batches[3].batch_no"
    assert "trace code" in caught.value.reason
    assert catalogue.product("8190099") is None


def test_csv_import_and_conflicting_batch(catalogue: Catalogue) -> None:
    header = ("trace_code,product_id,vaccine_code,name,manufacturer_code,form,doses_per_vial,"
              "batch_no,production_date,expiry_date,lot_release_no\n")  # fmt: skip
    row = (
        f"{code(HEPB, 500)},{HEPB},0201,乙肝疫苗,M01,注射液,1,{HEPB_BATCH},"
        "2025-12-01,2027-11-30,SP20250001\n"
    )
    summary = catalogue.import_csv(header + row)
    assert summary.trace_codes == 1
    conflicting = row.replace("2027-11-30", "2028-11-30").replace(code(HEPB, 500), code(HEPB, 501))
    with pytest.raises(CatalogueError, match="corrections go back"):
        catalogue.import_csv(header + conflicting)
    name_as_batch = row.replace(HEPB_BATCH, "吉淑琴")
    with pytest.raises(CatalogueError) as caught:
        catalogue.import_csv(header + name_as_batch)
    assert caught.value.field == "row 2.batch_no"


def test_receive_administer_lifecycle(stock: StockLedger) -> None:
    first = stock.receive(code(HEPB, 1), event_id="e1", actor="王芳")
    again = stock.receive(code(HEPB, 1), event_id="e1", actor="王芳")
    assert not first.duplicate
    assert again.duplicate
    with pytest.raises(StockError, match="already received"):
        stock.receive(code(HEPB, 1), event_id="e2", actor="王芳")
    stock.administer(code(HEPB, 1), event_id="a1", actor="李医生")
    assert stock.state(code(HEPB, 1)).state == USED_UP
    with pytest.raises(StockError, match="used up"):
        stock.administer(code(HEPB, 1), event_id="a2", actor="李医生")
    with pytest.raises(StockError, match="not received"):
        stock.administer(code(HEPB, 2), event_id="a3", actor="李医生")
    with pytest.raises(StockError, match="another movement"):
        stock.administer(code(HEPB, 3), event_id="e1", actor="李医生")
    [balance] = stock.balances()
    assert (balance.packages, balance.doses) == (0, 0)


def test_expired_batch_refused(stock: StockLedger) -> None:
    with pytest.raises(StockError) as caught:
        stock.receive(code(HEPB, 99), event_id="e", actor="王芳")
    assert caught.value.field == "batch_no"
    assert "expired" in caught.value.reason
    assert stock.balances() == []


def test_unknown_code_and_non_package_scans(stock: StockLedger) -> None:
    with pytest.raises(CatalogueError, match="not in the local catalogue"):
        stock.receive(code("8190011", 1), event_id="e", actor="王芳")
    with pytest.raises(LedgerError, match="not a vaccine package"):
        stock.receive("CCFRIDGE:6101030203:F1", event_id="e", actor="王芳")


@pytest.mark.asyncio
async def test_multi_dose_vial_opens_and_must_be_discarded(
    stock: StockLedger, clock: FakeClock
) -> None:
    gs1 = b"]d2010690123456789217270103" + b"10" + COVID_BATCH.encode() + b"\x1d21V1"
    stock.receive(gs1, event_id="r", actor="王芳")
    stock.administer(gs1, event_id="a1", actor="李医生")
    state = stock.state(stock.resolve_scan(gs1).code)
    assert (state.state, state.doses_left) == (OPENED, 1)
    await clock.advance(7 * 3600)
    with pytest.raises(StockError, match="discard time"):
        stock.administer(gs1, event_id="a2", actor="李医生")
    [discard] = stock.discard_open_vials(actor="王芳")
    assert discard.kind == "discard"
    now = clock.now()
    coefficients = stock.wastage_coefficients(now.year, now.month)
    assert coefficients == {"5603": 2.0}


def test_scrap_needs_approval_and_holds_the_package(stock: StockLedger) -> None:
    stock.receive(code(HEPB, 5), event_id="r5", actor="王芳")
    with pytest.raises(StockError) as caught:
        stock.request("scrap", [code(HEPB, 5)], approval_id="ap1", actor="王芳", reason=" ")
    assert caught.value.field == "reason"
    stock.request("scrap", [code(HEPB, 5)], approval_id="ap1", actor="王芳", reason="冷链断链",
                  reason_code="02")  # fmt: skip
    with pytest.raises(StockError, match="held for approval"):
        stock.administer(code(HEPB, 5), event_id="a", actor="李医生")
    assert stock.state(code(HEPB, 5)).state == IN_STOCK
    [event] = stock.decide("ap1", approve=True, approver="县疾控张科长")
    assert event.kind == "scrap"
    assert stock.state(code(HEPB, 5)).state == SCRAPPED
    assert stock.decide("ap1", approve=True, approver="县疾控张科长") == []


def test_stocktake_and_adjustment(stock: StockLedger) -> None:
    for n in (1, 2, 3):
        stock.receive(code(HEPB, n), event_id=f"r{n}", actor="王芳")
    report = stock.stocktake([code(HEPB, 1), code(HEPB, 2), code(HEPB, 4)])
    assert report.missing == (code(HEPB, 3),)
    assert report.unexpected == (code(HEPB, 4),)
    assert not report.consistent
    with pytest.raises(StockError, match="reason"):
        stock.adjust(HEPB, HEPB_BATCH, packages=-1, doses=-1, reason="", event_id="adj",
                     actor="王芳")  # fmt: skip
    stock.adjust(HEPB, HEPB_BATCH, packages=-1, doses=-1, reason="破损", event_id="adj",
                 actor="王芳")  # fmt: skip
    [balance] = stock.balances()
    assert balance.packages == 2


def test_summary_issue_once_per_day(stock: StockLedger, clock: FakeClock) -> None:
    stock.receive(code(HEPB, 1), event_id="r1", actor="王芳")
    stock.administer(code(HEPB, 1), event_id="a1", actor="李医生")
    day = clock.now().date()
    first = stock.close_day(day, actor="王芳")
    assert first.lines == {(HEPB, HEPB_BATCH): 1}
    assert stock.close_day(day, actor="王芳").duplicate
    assert stock.close_day(date(2026, 3, 1), actor="王芳").lines == {}


def test_covid_product_known(catalogue: Catalogue) -> None:
    product = catalogue.product(COVID)
    assert product is not None
    assert product.doses_per_vial == 2
