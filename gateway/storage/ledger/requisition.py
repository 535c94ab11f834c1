"""Requisition plans from the stock ledger's figures, and the county's reviews in the ledger
file (`requisition_reviews`, once per month); the arithmetic is `ledger.requisition_plan`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime

from gateway.core.clinic_time import CLINIC_TZ
from gateway.storage.ledger.db import LedgerDB, from_ms, to_ms
from gateway.storage.ledger.stock import StockLedger
from ledger.requisition_plan import (
    REVIEWED,
    PlanLine,
    RequisitionPlan,
    parse_month,
    plan_lines,
    shift_month,
)
from ledger.stock_errors import PlanAlreadyReviewedError, StockFieldEmptyError


class Requisitions:
    """Plans from the stock ledger; `quarantined` gives the doses held now per package code."""

    def __init__(self, db: LedgerDB, stock: StockLedger) -> None:
        self.db = db
        self.stock = stock

    def plan(self, month: str, quarantined: Mapping[str, int]) -> RequisitionPlan:
        """The reviewed plan of `month` if there is one, else a fresh proposal."""
        reviewed = self.reviewed(month)
        if reviewed is not None:
            return reviewed
        year, number = parse_month(month)
        base = shift_month(year, number, -1)
        first_after = date(*shift_month(year, number, 1), 1)
        start = datetime(*base, 1, tzinfo=CLINIC_TZ)
        end = datetime(year, number, 1, tzinfo=CLINIC_TZ)
        with self.db.translated("read requisition figures"):
            conn = self.db.conn
            used = dict(conn.execute(
                "SELECT p.vaccine_code, -SUM(e.doses) FROM stock_events e JOIN products p"
                " USING (product_id) WHERE e.kind = 'administer' AND e.at_ms >= ? AND e.at_ms < ?"
                " GROUP BY p.vaccine_code", (to_ms(start), to_ms(end)),
            ).fetchall())  # fmt: skip
            names = dict(conn.execute(
                "SELECT vaccine_code, MIN(name) FROM products GROUP BY vaccine_code"
            ).fetchall())  # fmt: skip
            per_batch = conn.execute(
                "SELECT p.vaccine_code, b.expiry_date, SUM(e.doses) FROM stock_events e"
                " JOIN products p USING (product_id) JOIN batches b USING (product_id, batch_no)"
                " WHERE e.kind != 'summary_issue' GROUP BY e.product_id, e.batch_no"
            ).fetchall()
            held = conn.execute(
                "SELECT p.vaccine_code, e.code, b.expiry_date FROM stock_events e"
                " JOIN products p USING (product_id) JOIN batches b USING (product_id, batch_no)"
                " WHERE e.code IN (SELECT value FROM json_each(?)) GROUP BY e.code",
                (json.dumps(sorted(quarantined)),),
            ).fetchall()
        stock: dict[str, int] = defaultdict(int)
        expiring: dict[str, int] = defaultdict(int)
        for vaccine, expiry, doses in per_batch:
            stock[vaccine] += max(int(doses), 0)
            if date.fromisoformat(expiry) < first_after:
                expiring[vaccine] += max(int(doses), 0)
        held_doses: dict[str, int] = defaultdict(int)
        for vaccine, code, expiry in held:
            if date.fromisoformat(expiry) >= first_after:  # expiring ones are not counted twice
                held_doses[vaccine] += quarantined[code]
        stock = {v: n for v, n in stock.items() if n}
        wastage = self.stock.wastage_coefficients(*base)
        lines = plan_lines(
            used, wastage, names, stock=stock, expiring=expiring, quarantined=held_doses
        )
        return RequisitionPlan(month, f"{base[0]:04d}-{base[1]:02d}", lines)

    def review(
        self, month: str, quarantined: Mapping[str, int], *, reviewed_by: str, note: str = ""
    ) -> RequisitionPlan:
        """The county reviews the plan as it stands now; once per month."""
        if not reviewed_by.strip():
            raise StockFieldEmptyError(
                "reviewed_by", "empty: a review records who reviewed the plan"
            )
        with self.db.transaction("review requisition plan") as conn:
            earlier = self.reviewed(month)
            if earlier is not None:
                raise PlanAlreadyReviewedError(
                    "month",
                    f"the plan for {month} was reviewed by {earlier.reviewed_by} at "
                    f"{earlier.reviewed_at:%Y-%m-%d %H:%M}",
                    params={
                        "month": month,
                        "person": earlier.reviewed_by,
                        "at": f"{earlier.reviewed_at:%Y-%m-%d %H:%M}",
                    },
                )
            plan = self.plan(month, quarantined)
            conn.execute(
                "INSERT INTO requisition_reviews VALUES (?, ?, ?, ?, ?)",
                (month, json.dumps(plan.to_json(), ensure_ascii=False), reviewed_by,
                 to_ms(self.stock.clock.now()), note),
            )  # fmt: skip
        reviewed = self.reviewed(month)
        assert reviewed is not None
        return reviewed

    def reviewed(self, month: str) -> RequisitionPlan | None:
        parse_month(month)
        with self.db.translated("read requisition review"):
            row = self.db.conn.execute(
                "SELECT plan, reviewed_by, at_ms, note FROM requisition_reviews WHERE month = ?",
                (month,),
            ).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        lines = tuple(PlanLine(**line) for line in data["lines"])
        return RequisitionPlan(
            month, data["based_on"], lines, REVIEWED, row[1], from_ms(row[2]), row[3]
        )
