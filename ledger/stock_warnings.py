"""Low- and excess-stock warnings from the requisition plan's figures (issue 16 item 6). Pure.

A month's need of a vaccine is the plan's `need_doses` (last month's use × wastage); its usable
stock the plan's `usable_doses` (on hand, less what expires within the month and what an open
quarantine holds). Stock is low when it covers fewer than `low_days` days of that need, and in
excess when it covers more than `excess_months` months (fridge space, and doses that may expire
before they are used); stock of a vaccine not used last month is excess too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.requisition_plan import RequisitionPlan

LOW_DAYS = 7
EXCESS_MONTHS = 2.0
DAYS_PER_MONTH = 30


@dataclass(frozen=True, slots=True)
class StockWarning:
    vaccine_code: str
    name: str
    kind: str  # "low" or "excess"
    usable_doses: int
    need_doses: int  # a month's need
    days_covered: float | None  # None: no use last month
    message: str

    def to_json(self) -> dict[str, object]:
        return {
            "vaccine_code": self.vaccine_code,
            "name": self.name,
            "kind": self.kind,
            "usable_doses": self.usable_doses,
            "need_doses": self.need_doses,
            "days_covered": self.days_covered,
            "message": self.message,
        }


def stock_warnings(
    plan: RequisitionPlan, *, low_days: int = LOW_DAYS, excess_months: float = EXCESS_MONTHS
) -> list[StockWarning]:
    warnings = []
    for line in plan.lines:
        usable, need = line.usable_doses, line.need_doses
        if need <= 0:
            if usable > 0:
                warnings.append(StockWarning(
                    line.vaccine_code, line.name, "excess", usable, need, None,
                    f"{line.name}：可用库存 {usable} 剂，上月未使用，可考虑退回或调剂",
                ))  # fmt: skip
            continue
        days = round(usable / need * DAYS_PER_MONTH, 1)
        if days < low_days:
            warnings.append(StockWarning(
                line.vaccine_code, line.name, "low", usable, need, days,
                f"{line.name}：可用库存 {usable} 剂，仅够约 {days} 天（月需求 {need} 剂），"
                "请及时领用",
            ))  # fmt: skip
        elif days > excess_months * DAYS_PER_MONTH:
            warnings.append(StockWarning(
                line.vaccine_code, line.name, "excess", usable, need, days,
                f"{line.name}：可用库存 {usable} 剂，约够 {days} 天（月需求 {need} 剂），库存过多",
            ))  # fmt: skip
    return warnings
