"""Low- and excess-stock warnings from the requisition plan's figures (issue 16 item 6)."""

from __future__ import annotations

from ledger.requisition_plan import RequisitionPlan, plan_lines
from ledger.stock_warnings import stock_warnings


def test_low_excess_and_unused_stock_are_warned_and_enough_is_not() -> None:
    lines = plan_lines(
        {"0201": 300, "5601": 30, "1201": 60},
        {"0201": 1.0, "5601": 1.0, "1201": 1.05},
        {"0201": "乙肝疫苗", "5601": "新冠疫苗", "1201": "百白破疫苗", "0901": "23价肺炎"},
        stock={"0201": 50, "5601": 100, "1201": 60, "0901": 10},
        expiring={"0201": 10},
        quarantined={},
    )
    plan = RequisitionPlan("2026-04", "2026-03", lines)
    found = {warning.vaccine_code: warning for warning in stock_warnings(plan)}
    assert set(found) == {"0201", "5601", "0901"}
    assert (found["0201"].kind, found["0201"].days_covered) == ("low", 4.0)  # 40 of 300 a month
    assert "请及时领用" in found["0201"].message
    assert (found["5601"].kind, found["5601"].days_covered) == ("excess", 100.0)
    assert (found["0901"].kind, found["0901"].days_covered) == ("excess", None)
