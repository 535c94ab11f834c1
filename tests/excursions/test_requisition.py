"""领用计划: last month's use × wastage, minus usable stock (expiring and quarantined packages
left out); the county's review; CSV and printable HTML."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from gateway.core.clock import FakeClock
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.locations import StockLocations
from gateway.storage.ledger.quarantine import Quarantine
from gateway.storage.ledger.requisition import Requisitions
from gateway.storage.ledger.stock import StockLedger
from ledger.requisition_plan import plan_lines, to_csv, to_html
from ledger.stock_errors import StockError
from tests.excursions.conftest import COLD, SPARE, covid, hepb, receive, record_warm
from tests.ledger.conftest import COVID

SHORT_BATCH = "C20250420"


@pytest.fixture
def march(
    locations: StockLocations, stock: StockLedger, quarantine: Quarantine, clock: FakeClock
) -> Requisitions:
    """March: 10 乙肝 received, 4 given, 1 scrapped, 2 quarantined; 新冠 of a batch that
    expires in April and of one that does not."""
    stock.catalogue.import_json(json.dumps({
        "batches": [{"product_id": COVID, "batch_no": SHORT_BATCH, "production_date":
                     "2025-04-20", "expiry_date": "2026-04-20", "lot_release_no": "SP20250420"}],
        "trace_codes": [{"trace_code": covid(n), "product_id": COVID, "batch_no": SHORT_BATCH}
                        for n in (50, 51)],
    }))  # fmt: skip
    receive(locations, [hepb(n) for n in range(1, 9)], SPARE)
    receive(locations, [hepb(9), hepb(10)], COLD)
    receive(locations, [covid(1), covid(50), covid(51)], SPARE)
    for n in range(1, 5):
        stock.administer(hepb(n), event_id=f"dose-{n}", actor="李医生")
    stock.request(
        "scrap", [hepb(5)], approval_id="s1", actor="王芳", reason="破损", reason_code="03"
    )
    stock.decide("s1", approve=True, approver="县疾控")
    clock.jump_wall(timedelta(hours=2))
    record_warm(quarantine, "x1", clock.now() - timedelta(minutes=60), 30)
    clock.jump_wall(timedelta(days=30))  # April 1st
    return Requisitions(stock.db, stock)


def held(quarantine: Quarantine) -> dict[str, int]:
    return {item["code"]: item["doses_left"] for item in quarantine.quarantined()}


def test_plan_from_use_stock_expiry_quarantine_and_wastage(
    march: Requisitions, quarantine: Quarantine
) -> None:
    plan = march.plan("2026-04", held(quarantine))
    assert (plan.month, plan.based_on, plan.state) == ("2026-04", "2026-03", "proposed")
    by_code = {line.vaccine_code: line for line in plan.lines}
    hep = by_code["0201"]
    assert (hep.used_doses, hep.wastage, hep.need_doses) == (4, 1.25, 5)
    assert (hep.stock_doses, hep.quarantined_doses, hep.usable_doses) == (5, 2, 3)
    assert hep.proposed_doses == 2
    cov = by_code["5603"]
    assert (cov.used_doses, cov.stock_doses, cov.expiring_doses, cov.usable_doses) == (0, 6, 4, 2)
    assert cov.proposed_doses == 0


def test_county_review_is_recorded_once(
    march: Requisitions, quarantine: Quarantine, db: LedgerDB
) -> None:
    with pytest.raises(StockError, match="who reviewed"):
        march.review("2026-04", held(quarantine), reviewed_by="")
    reviewed = march.review("2026-04", held(quarantine), reviewed_by="县疾控 张", note="同意")
    assert (reviewed.state, reviewed.reviewed_by, reviewed.note) == (
        "reviewed",
        "县疾控 张",
        "同意",
    )
    assert march.plan("2026-04", {}) == reviewed  # the reviewed plan, not a new proposal
    with pytest.raises(StockError, match="was reviewed by 县疾控 张"):
        march.review("2026-04", {}, reviewed_by="另一人")


def test_exports(march: Requisitions, quarantine: Quarantine) -> None:
    plan = march.plan("2026-04", held(quarantine))
    rows = list(csv.reader(io.StringIO(to_csv(plan))))
    assert rows[0][:2] == ["疫苗编码", "疫苗名称"]
    assert rows[1][0] == "0201"
    assert rows[1][-1] == "2"
    page = to_html(plan, "测试门诊<b>")
    assert "测试门诊&lt;b&gt; 2026-04 疫苗领用计划" in page
    assert "@media print" in page
    assert "待县级审核" in page


@pytest.mark.parametrize("month", ["2026-4", "2026-13", "April", "2026-04-01"])
def test_bad_month_is_refused(march: Requisitions, month: str) -> None:
    with pytest.raises(StockError, match="month"):
        march.plan(month, {})


def test_plan_arithmetic_never_proposes_below_zero() -> None:
    (line,) = plan_lines(
        {"0201": 3}, {"0201": 1.1}, {}, stock={"0201": 50}, expiring={}, quarantined={}
    )
    assert (line.need_doses, line.proposed_doses, line.name) == (4, 0, "0201")
