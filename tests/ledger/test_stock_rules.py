"""Seed 002's stock rules held by the stock ledger: where an issue may go, who approves, no
negative balance, and an event id that names one movement only.

Seed 002 (陕西省疫苗追溯和冷链监测信息系统管理方案, 二.(三).2 and 3):
"免疫规划疫苗可出库至平级和下级，可退回上级。出库至平级、退回上级时均需要上级机构审核通过。接种单位不能平级出库。"
"各单位报废疫苗时，均需要在系统中填写报废申请，经上级审核同意后，系统会自动完成报废核算。"
"""

from __future__ import annotations

import pytest

from gateway.core.clock import FakeClock
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.ledger.stock_values import ISSUED, RETURNED
from ledger.errors import CatalogueError
from ledger.stock_errors import EventConflictError, StockError
from ledger.units import Level, parse_units_csv
from tests.ledger.conftest import (
    COUNTY_CDC,
    HEPB,
    HEPB_BATCH,
    PEER,
    UNIT,
    UNITS_CSV,
    VILLAGE,
    code,
)


def received(stock: StockLedger, *numbers: int) -> None:
    for n in numbers:
        stock.receive(code(HEPB, n), event_id=f"r{n}", actor="王芳")


def test_issue_goes_down_only_to_a_known_unit(stock: StockLedger) -> None:
    """Seed 002: "免疫规划疫苗可出库至平级和下级" and "接种单位不能平级出库": this clinic issues
    down to a village point it knows; not to a clinic of its level, itself, an upper unit or
    a unit no catalogue lists."""
    received(stock, 1)
    refusals = {
        PEER: "接种单位不能平级出库",
        UNIT: "cannot issue to itself",
        COUNTY_CDC: "higher level",
        "abc": "not in the catalogue of units",
        "6101039999": "not in the catalogue of units",
    }
    for to_unit, why in refusals.items():
        with pytest.raises(StockError, match=why) as caught:
            stock.issue(code(HEPB, 1), event_id=f"i-{to_unit}", actor="王芳", to_unit=to_unit)
        assert caught.value.field == "to_unit"
    assert stock.state(code(HEPB, 1)).state == "in_stock"
    stock.issue(code(HEPB, 1), event_id="i1", actor="王芳", to_unit=VILLAGE)
    assert stock.state(code(HEPB, 1)).state == ISSUED


def test_a_gateway_without_its_own_unit_in_the_catalogue_issues_nothing(
    db: LedgerDB, catalogue: Catalogue, clock: FakeClock
) -> None:
    """Seed 002: the level decides what may be issued, so an unknown own level refuses."""
    stock = StockLedger(db, catalogue, clock, unit_code="6109999999")
    stock.units.import_csv(UNITS_CSV)
    received(stock, 1)
    with pytest.raises(StockError, match="own unit") as caught:
        stock.issue(code(HEPB, 1), event_id="i1", actor="王芳", to_unit=VILLAGE)
    assert caught.value.field == "unit.code"


def test_same_level_issue_of_a_cdc_waits_for_the_upper_level(
    db: LedgerDB, catalogue: Catalogue, clock: FakeClock
) -> None:
    """Seed 002: "出库至平级...需要上级机构审核通过" (for a unit that is not a vaccinating unit)."""
    county = StockLedger(db, catalogue, clock, unit_code=COUNTY_CDC)
    county.units.import_csv(UNITS_CSV)
    received(county, 1, 2)
    with pytest.raises(StockError, match="upper level approves"):
        county.issue(code(HEPB, 1), event_id="i1", actor="周", to_unit="6101040000")
    with pytest.raises(StockError, match="issue to it directly"):
        county.request("issue", [code(HEPB, 1)], approval_id="ap0", actor="周", reason="调剂",
                       to_unit=UNIT)  # fmt: skip
    county.request("issue", [code(HEPB, 1)], approval_id="ap1", actor="周", reason="调剂",
                   to_unit="6101040000")  # fmt: skip
    [event] = county.decide("ap1", approve=True, approver="市疾控")
    assert (event.kind, county.state(code(HEPB, 1)).state) == ("issue", ISSUED)


def test_return_goes_up_after_approval(stock: StockLedger) -> None:
    """Seed 002: "可退回上级...退回上级时均需要上级机构审核通过"."""
    received(stock, 1)
    for to_unit, why in ((PEER, "returns go up only"), (VILLAGE, "returns go up only"),
                         ("", "empty"), ("6101039999", "not in the catalogue")):  # fmt: skip
        with pytest.raises(StockError, match=why):
            stock.request("return", [code(HEPB, 1)], approval_id=f"x{to_unit}", actor="王芳",
                          reason="调回", to_unit=to_unit)  # fmt: skip
    stock.request("return", [code(HEPB, 1)], approval_id="ap1", actor="王芳", reason="调回",
                  to_unit=COUNTY_CDC)  # fmt: skip
    with pytest.raises(StockError, match="held for approval ap1"):
        stock.issue(code(HEPB, 1), event_id="i1", actor="王芳", to_unit=VILLAGE)
    [event] = stock.decide("ap1", approve=True, approver="county")
    assert event.kind == "return"
    assert stock.state(code(HEPB, 1)).state == RETURNED


def test_scrap_names_its_reason_code(stock: StockLedger) -> None:
    """Seed 002: "报废疫苗时，均需要在系统中填写报废申请，经上级审核同意"; the platform refuses a
    scrap without "疫苗报废原因代码" (seed 000: 疫苗报废原因代码不能为空, 36 times)."""
    received(stock, 1)
    for reason_code in ("", "77"):
        with pytest.raises(StockError) as caught:
            stock.request("scrap", [code(HEPB, 1)], approval_id="s", actor="王芳", reason="破损",
                          reason_code=reason_code)  # fmt: skip
        assert caught.value.field == "reason_code"
        assert "03 包装破损" in caught.value.reason
    stock.request("scrap", [code(HEPB, 1)], approval_id="s", actor="王芳", reason="破损",
                  reason_code="03")  # fmt: skip


def test_balances_never_go_negative(stock: StockLedger) -> None:
    """Seed 002: "严格疫苗出入库台账管理" (the books are the stock): an adjustment below zero is
    refused, whatever its size; a package adjusted away cannot then be given."""
    received(stock, 1, 2)
    with pytest.raises(StockError, match="balances never go negative") as caught:
        stock.adjust(HEPB, HEPB_BATCH, packages=-1_000_000, doses=-1_000_000, reason="盘亏",
                     event_id="adj1", actor="王芳")  # fmt: skip
    assert caught.value.field == "doses"
    stock.adjust(HEPB, HEPB_BATCH, packages=-2, doses=-2, reason="盘亏", event_id="adj2",
                 actor="王芳")  # fmt: skip
    with pytest.raises(StockError, match="below zero"):
        stock.administer(code(HEPB, 1), event_id="a1", actor="李医生")
    [balance] = stock.balances()
    assert (balance.packages, balance.doses) == (0, 0)


def test_an_event_id_names_one_movement(stock: StockLedger) -> None:
    """The same id with the same payload is one effect; with another payload a conflict."""
    received(stock, 1, 2)
    first = stock.issue(code(HEPB, 1), event_id="i1", actor="王芳", to_unit=VILLAGE)
    again = stock.issue(code(HEPB, 1), event_id="i1", actor="王芳", to_unit=VILLAGE)
    assert (first.duplicate, again.duplicate) == (False, True)
    for other in (
        lambda: stock.issue(code(HEPB, 2), event_id="i1", actor="王芳", to_unit=VILLAGE),
        lambda: stock.receive(code(HEPB, 3), event_id="i1", actor="王芳"),
    ):
        with pytest.raises(EventConflictError) as caught:
            other()
        assert (caught.value.field, caught.value.code) == ("event_id", "event_id_conflict")
    stock.adjust(HEPB, HEPB_BATCH, packages=-1, doses=-1, reason="破损", event_id="adj",
                 actor="王芳")  # fmt: skip
    assert stock.adjust(HEPB, HEPB_BATCH, packages=-1, doses=-1, reason="破损",
                        event_id="adj", actor="王芳").duplicate  # fmt: skip
    with pytest.raises(EventConflictError):
        stock.adjust(HEPB, HEPB_BATCH, packages=1, doses=1, reason="破损", event_id="adj",
                     actor="王芳")  # fmt: skip
    stock.request("scrap", [code(HEPB, 2)], approval_id="s1", actor="王芳", reason="破损",
                  reason_code="03")  # fmt: skip
    with pytest.raises(EventConflictError):
        stock.request("scrap", [code(HEPB, 2)], approval_id="s1", actor="王芳", reason="破损",
                      reason_code="02")  # fmt: skip
    stock.decide("s1", approve=False, approver="county")
    with pytest.raises(EventConflictError, match="already rejected"):
        stock.decide("s1", approve=True, approver="county")


def test_units_csv_is_checked_whole() -> None:
    """Seed 002, 附表1: units are known by 单位编码（十位数）."""
    units = parse_units_csv(UNITS_CSV)
    assert {u.code: u.level for u in units}[COUNTY_CDC] is Level.COUNTY
    bad = "unit_code,name,level,vaccinating\n61010302,门诊,township,1\n6101030203,,镇,2\n"
    with pytest.raises(CatalogueError) as caught:
        parse_units_csv(bad)
    assert [item.field for item in caught.value.problems] == [
        "row 2.unit_code", "row 3.name", "row 3.level", "row 3.vaccinating",
    ]  # fmt: skip
    with pytest.raises(CatalogueError, match="lacks level"):
        parse_units_csv("unit_code,name,vaccinating\n")
