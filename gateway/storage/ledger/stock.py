"""The stock ledger: append-only movements per package, balances and lifecycles derived.

Every movement is one row of ``stock_events`` (never updated or deleted), written inside one
``BEGIN IMMEDIATE`` transaction after the package's lifecycle was checked in that same
transaction. Each event carries the caller's scan event id: the same id again has no further
effect (the first outcome is returned); the same id for a different movement is refused.

A package (one trace code) moves: received → (opened → used up | discarded) | issued |
returned | scrapped. Seed 002's rules (`ledger.units`): an issue goes down to a unit of the
catalogue of units; a same-level issue (not from a vaccinating unit), a return up and a scrap
wait for the upper level's approval (who may approve is `gateway.auth.policy`'s
`stock_approve`: the county). Quantities are kept in packages and in doses (multi-dose vials: a
vial opens at its first dose and must be discarded `open_life_hours` later); no movement may
leave a batch's balance below zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime

from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import Clock
from gateway.storage.ledger.approvals import decide_approval, request_approval
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.circulation_queue import CirculationQueue
from gateway.storage.ledger.db import LedgerDB, to_ms
from gateway.storage.ledger.quarantine import held_refusal
from gateway.storage.ledger.queries import HoldOverride, record_hold_override, stays
from gateway.storage.ledger.stock_values import (
    ON_HAND,
    OPENED,
    UNVERIFIED,
    USED_UP,
    Balance,
    EventResult,
    PackageState,
    StocktakeReport,
    SummaryIssue,
    Upload,
)  # fmt: skip
from gateway.storage.ledger.stock_views import (
    balances,
    package_events,
    package_state,
    wastage_coefficients,
)  # fmt: skip
from gateway.storage.ledger.summary_issues import store_summary_part, summary_parts
from gateway.storage.ledger.units import UnitCatalogue
from ledger.circulation_xml import CirculationEvent
from ledger.codes import FridgeLabel, Gs1Code, TraceCode, classify
from ledger.errors import BatchUnknownError, CatalogueEntryMissingError, ScanNotPackageError
from ledger.holds import Hold, HoldError, HoldLookup
from ledger.shipments import Resolved
from ledger.stock_errors import (
    AdjustmentEmptyError,
    ApprovalRequiredError,
    BatchExpiredError,
    DayNotBegunError,
    EventConflictError,
    NotEnoughStockError,
    PackageAlreadyReceivedError,
    PackageHeldForApprovalError,
    PackageNotInStockError,
    PackageNotReceivedError,
    PackageUsedUpError,
    StockFieldEmptyError,
    VialPastDiscardTimeError,
)
from ledger.tables import load_tables
from ledger.units import Route, Unit, issue_route


class StockLedger:
    def __init__(
        self, db: LedgerDB, catalogue: Catalogue, clock: Clock, *, unit_code: str = "",
        scrap_reasons: Mapping[str, str] | None = None, holds: HoldLookup | None = None,
        on_queued: Callable[[], None] | None = None,
    ) -> None:  # fmt: skip
        self.db = db
        self.catalogue = catalogue
        self.clock = clock
        self.units = UnitCatalogue(db)
        self.unit_code = unit_code
        self.scrap_reasons = dict(
            scrap_reasons if scrap_reasons is not None else load_tables().scrap_reasons
        )
        self.holds = holds
        """The holds of the compartments (the gateway's alarms); None: nothing is held."""
        self.on_queued = on_queued
        """Called when a movement queued its circulation message for upload."""

    def check_hold(
        self, compartment: str | None, action: str, codes: Sequence[str], *, event_id: str,
        actor: str,
    ) -> None:  # fmt: skip
        """Within the caller's transaction: refuse `action` in a compartment on hold, or,
        under a manager's override of that hold, record the movement it let through."""
        if compartment is None or self.holds is None:
            return
        hold = self.holds(compartment)
        if hold is not None:
            self._through(hold, action, codes, event_id=event_id, actor=actor)

    def check_package_hold(self, code: str, action: str, *, event_id: str, actor: str) -> None:
        """The hold of every compartment the package was in while its alarm was open: one
        moved out of a warm fridge to save it stays held with what was left in there."""
        if self.holds is None:
            return
        now_ms = to_ms(self.clock.now())
        for compartment, _, end_ms in stays(self.db, code, now_ms):
            hold = self.holds(compartment)
            if hold is not None and (end_ms is None or end_ms >= to_ms(hold.since)):
                self._through(hold, action, [code], event_id=event_id, actor=actor)
                return

    def _through(
        self, hold: Hold, action: str, codes: Sequence[str], *, event_id: str, actor: str
    ) -> None:
        compartment = hold.compartment
        if hold.override is None:
            raise HoldError(action, hold)
        record_hold_override(
            self.db,
            HoldOverride(
                self.clock.now(), compartment, hold.alarm_id, action, event_id, tuple(codes),
                actor, f"under the override by {hold.override.who}: {hold.override.reason}",
            ),
        )  # fmt: skip

    # -- scans -----------------------------------------------------------------------------

    def resolve_scan(self, raw: bytes | str) -> Resolved:
        scan = classify(raw)
        if not isinstance(scan, TraceCode | Gs1Code):
            kind = "fridge_label" if isinstance(scan, FridgeLabel) else "id_card"
            raise ScanNotPackageError(
                "scan",
                f"a {type(scan).__name__} is not a vaccine package",
                params={"kind": kind},
            )
        return self.catalogue.resolve(scan)

    # -- movements -------------------------------------------------------------------------

    def receive(self, raw: bytes | str, *, event_id: str, actor: str) -> EventResult:
        """扫码入库: a package enters stock; refused if known already, or its batch expired."""
        item = self.resolve_scan(raw)
        with self.db.transaction("receive"):
            seen = self._seen(event_id, "receive", item.code)
            if seen:
                return seen
            now = self.clock.now()
            if package_events(self.db, item.code):
                state = self.state(item.code)
                raise PackageAlreadyReceivedError(
                    "trace_code",
                    f"{item.code} was already received ({state.state})",
                    params={"code": item.code, "state": state.state},
                )
            self._expiry_check(item, now)
            doses = item.product.doses_per_vial
            reason = "" if item.verified else UNVERIFIED
            self.append(event_id, "receive", item, (doses, 1), now=now, actor=actor, reason=reason,
                         upload=Upload())  # fmt: skip
        return EventResult(
            event_id, "receive", item.code, duplicate=False, unverified=not item.verified
        )

    def issue(self, raw: bytes | str, *, event_id: str, actor: str, to_unit: str) -> EventResult:
        """出库 down to a unit of a lower level; a same-level issue is asked for (`request`)."""
        to_unit = to_unit.strip()
        if not to_unit:
            raise StockFieldEmptyError("to_unit", "empty: say which unit receives the vaccine")
        item = self.resolve_scan(raw)
        with self.db.transaction("issue"):
            seen = self._seen(event_id, "issue", item.code, ref=to_unit)
            if seen:
                return seen
            if self.route_to(to_unit) is Route.APPROVAL:
                raise ApprovalRequiredError(
                    "to_unit",
                    f"{to_unit} is of the same level: the upper level approves such an issue "
                    "first (出库至平级需要上级机构审核); ask with kind 'issue'",
                    params={"unit": to_unit},
                )
            state = self.on_hand(item.code, "issue")
            self.append(event_id, "issue", item, (-state.doses_left, -1),
                         now=self.clock.now(), actor=actor, ref=to_unit,
                         upload=Upload(to_unit=to_unit))  # fmt: skip
        return EventResult(event_id, "issue", item.code, duplicate=False)

    def request(
        self, kind: str, codes: list[bytes | str], *, approval_id: str, actor: str, reason: str,
        to_unit: str = "", reason_code: str = "",
    ) -> str:  # fmt: skip
        """Ask the upper level to approve a movement (`approvals.request_approval`)."""
        return request_approval(
            self, kind, codes, approval_id=approval_id, actor=actor, reason=reason,
            to_unit=to_unit, reason_code=reason_code,
        )  # fmt: skip

    def decide(self, approval_id: str, *, approve: bool, approver: str) -> list[EventResult]:
        """The upper level's decision (`approvals.decide_approval`)."""
        return decide_approval(self, approval_id, approve=approve, approver=approver)

    def own_unit(self) -> Unit:
        return self.units.known(self.unit_code, "unit.code", "this gateway's own unit")

    def route_to(self, to_unit: str) -> Route:
        return issue_route(
            self.own_unit(), self.units.known(to_unit, "to_unit", "the receiving unit")
        )

    def administer(self, raw: bytes | str, *, event_id: str, actor: str) -> EventResult:
        """扫码接种: one dose from this package; see `administer_in_transaction`."""
        item = self.resolve_scan(raw)
        with self.db.transaction("administer"):
            return self.administer_in_transaction(item, event_id=event_id, actor=actor)

    def administer_in_transaction(
        self, item: Resolved, *, event_id: str, actor: str
    ) -> EventResult:
        """For callers that already hold a transaction (the vaccination ledger). Refused from
        a compartment on hold (`check_hold`)."""
        seen = self._seen(event_id, "administer", item.code)
        if seen:
            return seen
        now = self.clock.now()
        state = self.on_hand(item.code, "administer")
        self._expiry_check(item, now)
        # The hold first: a hold whose alarm has just cleared records the excursion, which the
        # quarantine check then sees.
        self.check_package_hold(item.code, "administering", event_id=event_id, actor=actor)
        if (held := held_refusal(self.db, item.code)) is not None:
            raise held
        if state.discard_at is not None and now >= state.discard_at:
            raise VialPastDiscardTimeError(
                "trace_code",
                f"{item.code}: opened vial past its discard time {_local(state.discard_at)}",
                params={"code": item.code, "discard_at": _local(state.discard_at)},
            )
        packages = -1 if state.doses_left == 1 else 0
        self.append(event_id, "administer", item, (-1, packages), now=now, actor=actor)
        day = now.astimezone(CLINIC_TZ).date()
        parts = summary_parts(self.db.conn, day)
        if parts:  # the day was closed: this dose is a supplementary issue of the same day
            store_summary_part(self.db.conn, day, len(parts) + 1, actor=actor, now=self.clock.now())
        return EventResult(event_id, "administer", item.code, duplicate=False)

    def discard_open_vials(self, *, actor: str) -> list[EventResult]:
        """Discard the remaining doses of every opened vial past its discard time."""
        results = []
        with self.db.transaction("discard") as conn:
            now = self.clock.now()
            rows = conn.execute(
                "SELECT DISTINCT code FROM stock_events WHERE kind = 'administer'"
            ).fetchall()
            for (code,) in rows:
                state = self.state(code)
                if state.state == OPENED and state.discard_at and now >= state.discard_at:
                    event_id = f"discard:{code}"
                    item = self.resolved(code)
                    self.append(event_id, "discard", item, (-state.doses_left, -1), now=now,
                                 actor=actor, reason="opened vial past discard time")  # fmt: skip
                    results.append(EventResult(event_id, "discard", code, duplicate=False))
        return results

    def adjust(
        self, product_id: str, batch_no: str, *, packages: int, doses: int, reason: str,
        event_id: str, actor: str,
    ) -> EventResult:  # fmt: skip
        """A stocktake adjustment of the book balance; needs a reason."""
        if not reason.strip():
            raise StockFieldEmptyError("reason", "empty: a stocktake adjustment needs a reason")
        if packages == 0 and doses == 0:
            raise AdjustmentEmptyError("packages", "an adjustment of nothing")
        batch = self.catalogue.batch(product_id, batch_no)
        product = self.catalogue.product(product_id)
        if batch is None or product is None:
            raise BatchUnknownError(
                "batch_no",
                f"{product_id}/{batch_no} is not in the catalogue",
                params={"batch_no": batch_no, "product": product.name if product else product_id},
            )
        with self.db.transaction("adjust"):
            seen = self._seen(
                event_id, "adjust", None, product_id=product_id, batch_no=batch_no,
                doses=doses, packages=packages, reason=reason,
            )  # fmt: skip
            if seen:
                return seen
            item = Resolved("", product, batch)
            self.append(event_id, "adjust", item, (doses, packages), now=self.clock.now(),
                         actor=actor, reason=reason, with_code=False)  # fmt: skip
        return EventResult(event_id, "adjust", None, duplicate=False)

    def close_day(self, day: date, *, actor: str) -> SummaryIssue:
        """Close the vaccination day: its 汇总出库 (every dose given that day, per product and
        batch) is stored once; asked again, the stored issue is returned as it was stored, with
        the supplementary issues of doses recorded after the close."""
        with self.db.transaction("close the day"):
            parts = summary_parts(self.db.conn, day)
            if parts:
                return SummaryIssue(day, parts, duplicate=True)
            today = self.clock.now().astimezone(CLINIC_TZ).date()
            if day > today:
                raise DayNotBegunError(
                    "day",
                    f"{day} has not begun: close today or an earlier day",
                    params={"day": day.isoformat()},
                )
            store_summary_part(self.db.conn, day, 1, actor=actor, now=self.clock.now())
            return SummaryIssue(day, summary_parts(self.db.conn, day))

    def summary_issue(self, day: date) -> SummaryIssue | None:
        """The day's stored 汇总出库 (None: the day was not closed)."""
        with self.db.translated("read summary issue"):
            parts = summary_parts(self.db.conn, day)
        return SummaryIssue(day, parts, duplicate=True) if parts else None

    # -- views -----------------------------------------------------------------------------

    def state(self, code: str) -> PackageState:
        return package_state(self.db, self.catalogue, code)

    def balances(self) -> list[Balance]:
        return balances(self.db)

    def stocktake(self, scans: list[bytes | str]) -> StocktakeReport:
        """Compare scanned packages with the books; changes nothing (adjust separately)."""
        scanned: dict[str, tuple[str, str]] = {}
        for raw in scans:
            item = self.resolve_scan(raw)
            scanned[item.code] = (item.product.product_id, item.batch.batch_no)
        with self.db.translated("read stock"):
            codes = [row[0] for row in self.db.conn.execute(
                "SELECT DISTINCT code FROM stock_events WHERE code IS NOT NULL"
            )]  # fmt: skip
        book: dict[tuple[str, str], int] = defaultdict(int)
        on_books = set()
        for code in codes:
            state = self.state(code)
            if state.state in ON_HAND:
                book[(state.product_id, state.batch_no)] += 1
                on_books.add(code)
        physical: dict[tuple[str, str], int] = defaultdict(int)
        for key in scanned.values():
            physical[key] += 1
        missing = tuple(sorted(on_books - scanned.keys()))
        unexpected = tuple(sorted(scanned.keys() - on_books))
        return StocktakeReport(dict(book), dict(physical), missing, unexpected,
                               consistent=not missing and not unexpected)  # fmt: skip

    def wastage_coefficients(self, year: int, month: int) -> dict[str, float]:
        """疫苗损耗系数 per vaccine over one calendar month (`stock_views`)."""
        return wastage_coefficients(self.db, year, month)

    # -- within a transaction (here and in `approvals`) ------------------------------------

    def _seen(
        self, event_id: str, kind: str, code: str | None, **payload: str | int
    ) -> EventResult | None:
        """The first outcome of `event_id` if it was recorded with this same movement (kind,
        code and the `payload` columns); `EventConflictError` if with another one."""
        if not event_id.strip():
            raise StockFieldEmptyError("event_id", "empty: every scan event needs an id")
        columns = ("kind", "code", *payload)
        row = self.db.conn.execute(
            f"SELECT {', '.join(columns)} FROM stock_events WHERE event_id = ?",  # noqa: S608 - column names are this module's keywords
            (event_id,),
        ).fetchone()
        if row is None:
            return None
        if tuple(row) != (kind, code, *payload.values()):
            raise EventConflictError(
                "event_id", f"{event_id} was already used for another movement"
            )
        return EventResult(event_id, kind, code, duplicate=True)

    def on_hand(self, code: str, action: str) -> PackageState:
        events = package_events(self.db, code)
        if not events:
            raise PackageNotReceivedError(
                "trace_code",
                f"{code} was not received: cannot {action} it",
                params={"code": code},
            )
        state = self.state(code)
        if state.state == USED_UP:
            raise PackageUsedUpError(
                "trace_code",
                f"{code} is used up: every dose was given already",
                params={"code": code},
            )
        if state.state not in ON_HAND:
            raise PackageNotInStockError(
                "trace_code",
                f"{code} is {state.state}: cannot {action} it",
                params={"code": code, "state": state.state},
            )
        if state.held_by is not None:
            raise PackageHeldForApprovalError(
                "trace_code",
                f"{code} is held for approval {state.held_by}",
                params={"code": code, "approval_id": state.held_by},
            )
        return state

    def _expiry_check(self, item: Resolved, now: datetime) -> None:
        if now.astimezone(CLINIC_TZ).date() > item.batch.expiry_date:
            raise BatchExpiredError(
                "batch_no",
                f"batch {item.batch.batch_no} expired on {item.batch.expiry_date}",
                params={
                    "product": item.product.name,
                    "batch_no": item.batch.batch_no,
                    "expiry": item.batch.expiry_date.isoformat(),
                },
            )

    def resolved(self, code: str) -> Resolved:
        events = package_events(self.db, code)
        product = self.catalogue.product(events[0][2])
        batch = self.catalogue.batch(events[0][2], events[0][3])
        if product is None or batch is None:
            raise CatalogueEntryMissingError(
                "trace_code",
                f"{code}: product or batch left the catalogue",
                params={"code": code},
            )
        return Resolved(code, product, batch)

    def append(
        self, event_id: str, kind: str, item: Resolved, delta: tuple[int, int], *,
        now: datetime, actor: str, reason: str = "", ref: str = "",
        with_code: bool = True, upload: Upload | None = None,
    ) -> None:  # fmt: skip
        """Append one movement; with `upload`, its circulation message is queued with it."""
        if not actor.strip():
            raise StockFieldEmptyError("actor", "empty: who made this movement?")
        product_id, batch_no = item.product.product_id, item.batch.batch_no
        if delta[0] < 0 or delta[1] < 0:
            doses, packages = self.db.conn.execute(
                "SELECT COALESCE(SUM(doses), 0), COALESCE(SUM(packages), 0) FROM stock_events"
                " WHERE product_id = ? AND batch_no = ?",
                (product_id, batch_no),
            ).fetchone()
            if doses + delta[0] < 0 or packages + delta[1] < 0:
                raise NotEnoughStockError(
                    "doses" if doses + delta[0] < 0 else "packages",
                    f"{kind} would leave {product_id}/{batch_no} below zero ({doses} dose(s) "
                    f"in {packages} package(s) on the books; {delta[0]} dose(s), {delta[1]} "
                    "package(s) asked): balances never go negative",
                    params={
                        "product": item.product.name,
                        "batch_no": batch_no,
                        "doses": doses,
                        "packages": packages,
                        "asked_doses": -delta[0],
                        "asked_packages": -delta[1],
                    },
                )
        self.db.conn.execute(
            "INSERT INTO stock_events (event_id, kind, code, product_id, batch_no, doses,"
            " packages, at_ms, actor, reason, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event_id, kind, item.code if with_code else None, item.product.product_id,
             item.batch.batch_no, delta[0], delta[1], to_ms(now), actor, reason, ref),
        )  # fmt: skip
        if upload is not None:
            message = CirculationEvent(
                event_id, 1, kind, self.unit_code, item.code, item.product.vaccine_code,
                item.product.manufacturer_code, batch_no, item.batch.expiry_date,
                abs(delta[1]), abs(delta[0]), now, actor, upload.to_unit, upload.reason_code,
                upload.approved_by, reason,
            )  # fmt: skip
            CirculationQueue.enqueue(self.db.conn, message, now)
            if self.on_queued is not None:
                self.on_queued()


def _local(moment: datetime) -> str:
    return moment.astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M")
