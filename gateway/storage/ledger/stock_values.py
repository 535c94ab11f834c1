"""The stock ledger's values: package states, movement outcomes, balances, stocktakes and the
day's summary issue."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

#: states a package can be in, derived from its events
IN_STOCK, OPENED, ISSUED, RETURNED, SCRAPPED, USED_UP, DISCARDED = (
    "in_stock", "opened", "issued", "returned", "scrapped", "used_up", "discarded",
)  # fmt: skip
ON_HAND = frozenset({IN_STOCK, OPENED})


@dataclass(frozen=True, slots=True)
class PackageState:
    code: str
    product_id: str
    batch_no: str
    state: str
    doses_left: int
    opened_at: datetime | None
    discard_at: datetime | None
    held_by: str | None  # a pending approval


UNVERIFIED = "unverified: the shipment data lists no serials of this batch"


@dataclass(frozen=True, slots=True)
class EventResult:
    event_id: str
    kind: str
    code: str | None
    duplicate: bool  # True: this event id was seen before; nothing changed now
    unverified: bool = False  # a GS1 package the shipment data lists no serials for


@dataclass(frozen=True, slots=True)
class Upload:
    """What the circulation message of a movement carries beside the movement itself."""

    to_unit: str = ""
    reason_code: str = ""
    approved_by: str = ""


@dataclass(frozen=True, slots=True)
class Balance:
    product_id: str
    batch_no: str
    packages: int
    doses: int


@dataclass(frozen=True, slots=True)
class StocktakeReport:
    """账苗一致: book (ledger) against physical (scanned) packages, per product and batch."""

    book: dict[tuple[str, str], int]
    physical: dict[tuple[str, str], int]
    missing: tuple[str, ...]  # on the books, not found on the shelf
    unexpected: tuple[str, ...]  # scanned, but not on the books
    consistent: bool


@dataclass(frozen=True, slots=True)
class SummaryPart:
    """One stored 汇总出库 of a day: part 1 when the day was closed, then one supplementary
    issue per dose recorded after it."""

    part: int
    at: datetime
    actor: str
    lines: dict[tuple[str, str], int]  # (product, batch) -> doses


@dataclass(frozen=True, slots=True)
class SummaryIssue:
    day: date
    parts: tuple[SummaryPart, ...] = ()
    duplicate: bool = False  # True: the day was closed before; these are the stored parts

    @property
    def lines(self) -> dict[tuple[str, str], int]:
        """The day's doses per product and batch over every part."""
        total: dict[tuple[str, str], int] = defaultdict(int)
        for part in self.parts:
            for key, doses in part.lines.items():
                total[key] += doses
        return dict(total)
