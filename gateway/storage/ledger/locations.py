"""Where stock is: which fridge compartment each package sits in, now and at any past time.

A package gets a place when it is received (`receive_into`) or placed afterwards (`place`, or
`place_batch` for every unplaced package of a batch, checked against the counted number), and
changes place by a move scan (`move`). Each flow is one row of ``location_events`` with the
packages it concerned in ``location_units``; nothing is updated or deleted, so the place of a
package at time T is its last placement at or before T. Packages leave a compartment when they
leave stock (issue, return, scrap, discard, last dose given): a package is in stock at T when
the doses of its ``stock_events`` up to T add up to more than zero.

Compartments are references as the gateway's settings name them, ``FRIDGE/COMPARTMENT``
(e.g. ``F1/冷藏``); the caller passes the configured ones.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from gateway.storage.ledger.db import LedgerDB, to_ms
from gateway.storage.ledger.queries import compartment_of
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.ledger.stock_values import IN_STOCK, OPENED, EventResult
from ledger.errors import LedgerError
from ledger.stock_errors import (
    CompartmentUnknownError,
    EventConflictError,
    MoveToSameCompartmentError,
    NothingToPlaceError,
    PackageAlreadyPlacedError,
    PackageNotInStockError,
    PackageNotReceivedError,
    PackageScannedTwiceError,
    PeriodReversedError,
    PlacementCountMismatchError,
    StockFieldEmptyError,
)

PLACE, MOVE = "place", "move"

_LAST_PLACE = (
    "SELECT u.code, e.compartment, MAX(e.seq) FROM location_units u"
    " JOIN location_events e ON e.seq = u.event_seq WHERE e.at_ms <= ? GROUP BY u.code"
)
_ARRIVED = (
    "SELECT DISTINCT u.code FROM location_units u JOIN location_events e ON e.seq = u.event_seq"
    " WHERE e.compartment = ? AND e.at_ms > ? AND e.at_ms <= ?"
)
_HELD = (
    "SELECT code, product_id, batch_no, SUM(doses) FROM stock_events"
    " WHERE code IN (SELECT value FROM json_each(?)) AND at_ms <= ?"
    " GROUP BY code HAVING SUM(doses) > 0 ORDER BY code"
)
_RECEIVED = (
    "SELECT code, product_id, batch_no, SUM(doses) FROM stock_events"
    " WHERE code IN (SELECT value FROM json_each(?)) AND at_ms <= ?"
    " GROUP BY code ORDER BY code"
)


@dataclass(frozen=True, slots=True)
class UnitAt:
    """A package in a compartment at some time, with the doses it still held then."""

    code: str
    product_id: str
    batch_no: str
    doses_left: int


@dataclass(frozen=True, slots=True)
class Placement:
    event_id: str
    kind: str
    compartment: str
    codes: tuple[str, ...]
    duplicate: bool = False


class StockLocations:
    """Placements and moves over the stock ledger's file; see the module docstring."""

    def __init__(self, db: LedgerDB, stock: StockLedger, compartments: Collection[str]) -> None:
        self.db = db
        self.stock = stock
        self.compartments = frozenset(compartments)

    # -- scan flows ------------------------------------------------------------------------

    def receive_into(
        self, raw: bytes | str, compartment: str, *, event_id: str, actor: str
    ) -> tuple[EventResult, Placement]:
        """扫码入库 straight into a compartment: the receipt and its placement, both or neither."""
        self._known(compartment)
        with self.db.transaction("receive into a compartment"):
            received = self.stock.receive(raw, event_id=event_id, actor=actor)
            placed = self.place([raw], compartment, event_id=f"{event_id}:place", actor=actor)
        return received, placed

    def place(
        self, raws: Iterable[bytes | str], compartment: str, *, event_id: str, actor: str
    ) -> Placement:
        """Put received packages that have no place yet into `compartment`."""
        codes = [self.stock.resolve_scan(raw).code for raw in raws]
        with self.db.transaction("place stock"):
            seen = self._seen(event_id, PLACE, compartment, codes)
            if seen:
                return seen
            for code in codes:
                self._in_stock(code, "place")
                where = self.where(code)
                if where is not None:
                    raise PackageAlreadyPlacedError(
                        "trace_code",
                        f"{code} is already in {where}: scan it as a move instead",
                        params={"code": code, "compartment": where},
                    )
            self.stock.check_hold(compartment, "receiving", codes, event_id=event_id, actor=actor)
            return self._record(event_id, PLACE, compartment, codes, actor=actor)

    def place_batch(
        self, product_id: str, batch_no: str, compartment: str, *, packages: int,
        event_id: str, actor: str,
    ) -> Placement:  # fmt: skip
        """Put every unplaced package of a batch into `compartment`; `packages` is the number
        counted on the shelf, and must match what the books hold without a place."""
        with self.db.transaction("place a batch"):
            with self.db.translated("read batch stock"):
                rows = self.db.conn.execute(
                    "SELECT code FROM stock_events WHERE product_id = ? AND batch_no = ?"
                    " AND code IS NOT NULL GROUP BY code HAVING SUM(doses) > 0 ORDER BY code",
                    (product_id, batch_no),
                ).fetchall()
            codes = [code for (code,) in rows if self.where(code) is None]
            seen = self._seen(event_id, PLACE, compartment, None)
            if seen:
                return seen
            if not codes:
                raise NothingToPlaceError(
                    "batch_no",
                    f"{product_id}/{batch_no}: no package of it in stock without a place",
                    params={"batch_no": batch_no},
                )
            if packages != len(codes):
                raise PlacementCountMismatchError(
                    "packages",
                    f"counted {packages}, but the books hold {len(codes)} unplaced package(s) of"
                    f" {product_id}/{batch_no}: count again or scan the packages one by one",
                    params={"counted": packages, "on_books": len(codes), "batch_no": batch_no},
                )
            whole = f"{product_id}/{batch_no}"
            self.stock.check_hold(compartment, "receiving", codes, event_id=event_id, actor=actor)
            return self._record(event_id, PLACE, compartment, codes, actor=actor, batch=whole)

    def move(
        self, raws: Iterable[bytes | str], compartment: str, *, event_id: str, actor: str
    ) -> Placement:
        """A move scan: packages in stock go to another compartment."""
        codes = [self.stock.resolve_scan(raw).code for raw in raws]
        with self.db.transaction("move stock"):
            seen = self._seen(event_id, MOVE, compartment, codes)
            if seen:
                return seen
            for code in codes:
                self._in_stock(code, "move")
                if self.where(code) == compartment:
                    raise MoveToSameCompartmentError(
                        "trace_code",
                        f"{code} is already in {compartment}",
                        params={"code": code, "compartment": compartment},
                    )
            self.stock.check_hold(
                compartment, "moving into it", codes, event_id=event_id, actor=actor
            )
            return self._record(event_id, MOVE, compartment, codes, actor=actor)

    # -- views -----------------------------------------------------------------------------

    def where(self, code: str, at: datetime | None = None) -> str | None:
        """The compartment a package was last put in, at or before `at` (default: now)."""
        return compartment_of(self.db, code, self._ms(at))

    def contents(self, compartment: str, at: datetime | None = None) -> list[UnitAt]:
        """What was in `compartment` at `at` (default: now): placed there last, still in stock."""
        self._known(compartment)
        moment = self._ms(at)
        with self.db.translated("read compartment contents"):
            placed = [
                code
                for code, where, _ in self.db.conn.execute(_LAST_PLACE, (moment,))
                if where == compartment
            ]
        return self.held_at(placed, moment)

    def present_during(self, compartment: str, start: datetime, end: datetime) -> list[UnitAt]:
        """Every package in `compartment` at any moment of [start, end]: there at the start,
        or put there during it (a placement needs the package in stock)."""
        if end < start:
            raise PeriodReversedError(
                "end", f"{end.isoformat()} is before the start {start.isoformat()}"
            )
        at_start = {unit.code: unit for unit in self.contents(compartment, start)}
        with self.db.translated("read arrivals"):
            arrived = [
                code
                for (code,) in self.db.conn.execute(
                    _ARRIVED, (compartment, to_ms(start), to_ms(end))
                )
                if code not in at_start
            ]
        units = list(at_start.values())
        if arrived:
            units += self.held_at(arrived, to_ms(end), ever=True)
        return sorted(units, key=lambda unit: unit.code)

    def doses_in(self, compartment: str) -> int:
        """Doses in `compartment` now (what an excursion there puts at risk)."""
        return sum(unit.doses_left for unit in self.contents(compartment))

    # -- internals -------------------------------------------------------------------------

    def held_at(self, codes: list[str], moment: int, *, ever: bool = False) -> list[UnitAt]:
        """`codes` in stock at `moment` (with `ever`: received by then, even if gone since)."""
        if not codes:
            return []
        query = _RECEIVED if ever else _HELD
        with self.db.translated("read stock at a time"):
            rows = self.db.conn.execute(query, (json.dumps(codes), moment)).fetchall()
        return [UnitAt(code, product, batch, int(doses)) for code, product, batch, doses in rows]

    def _known(self, compartment: str) -> None:
        if compartment not in self.compartments:
            raise CompartmentUnknownError(
                "compartment",
                f"{compartment!r} is not a configured compartment; known: "
                f"{', '.join(sorted(self.compartments)) or 'none'}",
                params={"value": compartment},
            )

    def _in_stock(self, code: str, action: str) -> None:
        try:
            state = self.stock.state(code)
        except LedgerError:
            raise PackageNotReceivedError(
                "trace_code",
                f"{code} is not in stock (never received): cannot {action} it",
                params={"code": code},
            ) from None
        if state.state not in (IN_STOCK, OPENED):
            raise PackageNotInStockError(
                "trace_code",
                f"{code} is not in stock ({state.state}): cannot {action} it",
                params={"code": code, "state": state.state},
            )

    def _seen(
        self, event_id: str, kind: str, compartment: str, codes: list[str] | None
    ) -> Placement | None:
        if not event_id.strip():
            raise StockFieldEmptyError("event_id", "empty: every scan event needs an id")
        self._known(compartment)
        with self.db.translated("read location event"):
            row = self.db.conn.execute(
                "SELECT seq, kind, compartment FROM location_events WHERE event_id = ?",
                (event_id,),
            ).fetchone()
            if row is None:
                return None
            stored = tuple(
                code
                for (code,) in self.db.conn.execute(
                    "SELECT code FROM location_units WHERE event_seq = ? ORDER BY code", (row[0],)
                )
            )
        if (row[1], row[2]) != (kind, compartment) or (
            codes is not None and stored != tuple(sorted(codes))
        ):
            raise EventConflictError("event_id", f"{event_id} was already used for another scan")
        return Placement(event_id, kind, compartment, stored, duplicate=True)

    def _record(
        self, event_id: str, kind: str, compartment: str, codes: list[str], *, actor: str,
        batch: str = "",
    ) -> Placement:  # fmt: skip
        if not actor.strip():
            raise StockFieldEmptyError("actor", "empty: who moved the stock?")
        if not codes:
            raise StockFieldEmptyError("codes", "no package scanned")
        if len(set(codes)) != len(codes):
            raise PackageScannedTwiceError("codes", "a package was scanned twice in one flow")
        conn = self.db.conn
        cursor = conn.execute(
            "INSERT INTO location_events (event_id, kind, compartment, packages, at_ms, actor,"
            " batch) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (event_id, kind, compartment, len(codes), self._ms(None), actor, batch),
        )
        conn.executemany(
            "INSERT INTO location_units (event_seq, code) VALUES (?, ?)",
            [(cursor.lastrowid, code) for code in codes],
        )
        return Placement(event_id, kind, compartment, tuple(sorted(codes)))

    def _ms(self, at: datetime | None) -> int:
        return to_ms(self.stock.clock.now() if at is None else at)
