"""Scans → ledger: a committed scan from a configured station becomes that station's action.

A scan listener (`gateway.storage.scans.ScanListener`): the scan is in the scan store before it
gets here. The station's action (`[ledger.stations]`) decides what it does:

- ``receive``: 扫码入库 of the scanned package; at a station with a compartment
  (`[ledger.compartments]`) the package is received into it, receipt and place together;
- ``move``: the scanned package, in stock, goes into the station's compartment (移库);
- ``administer``: one dose from the scanned package (扫码接种). The result carries the event
  id; the dose record made for this scan (ledger routes) uses the same id, so the package gives
  one dose however many times the record is saved;
- ``stocktake``: the package joins the station's open stocktake session, and the result shows
  book against shelf so far (账苗一致). A session ends after `stocktake_idle_min` without scans.

Each scan acts for an account (`ActsFor`: the account that posted it over HTTP, or the one its
station is assigned to for a wired scanner), whose rights are checked by the one policy
(`gateway.auth.policy.authorize`) before anything is done: a station assigned to a vaccinator
cannot receive stock. The ledger records that account's name as the actor of each movement.

The event id is the scan's seq (``scan:<seq>``): the same scan event twice has one effect, also
across restarts; the last seq applied is kept in the ledger file, and `catch_up` applies at
start what a crash left between a scan's commit and its ledger action. Each station keeps its
recent results (accepted, with the account that acted and the compartment a package went to,
or refused with the refusal's code, "forbidden" when the account may not, the field and the
reason) for `GET /api/ledger/stations/{station}/feed`. A fridge label is not the ledger's
business (proof of presence, `gateway.alarms.presence`) and is passed over.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from gateway.auth.policy import Action, ForbiddenError, User, authorize
from gateway.core.clock import Clock
from gateway.ledgers.book import LedgerBook
from gateway.storage.ledger.locations import StockLocations
from gateway.storage.ledger.queries import read_meta, write_meta
from gateway.storage.ledger.stock_values import EventResult, StocktakeReport
from gateway.storage.scans import ScanStore, StoredScan
from ledger.codes import FridgeLabel, classify
from ledger.errors import LedgerError
from ledger.masking import Shown
from ledger.settings import LedgerSettings, StationAction

ActsFor = Callable[[StoredScan], User]
"""The account a committed scan acts for; raises `ForbiddenError` when none can."""

# What each station action needs of the acting account: the same actions as the HTTP routes.
NEEDS: dict[StationAction, Action] = {
    StationAction.RECEIVE: Action.STOCK_RECEIVE,
    StationAction.MOVE: Action.STOCK_RECEIVE,
    StationAction.ADMINISTER: Action.ADMINISTER,
    StationAction.STOCKTAKE: Action.STOCKTAKE,
}
assert set(NEEDS) == set(StationAction), "every station action needs its permission"

log = logging.getLogger(__name__)

FEED_SIZE = 100
SEEN_SIZE = 1000
CATCH_UP_CHUNK = 500
META_APPLIED_SEQ = "scans_applied_seq"


@dataclass(frozen=True, slots=True)
class StationResult:
    """What one scan did at its station, for the station's screen."""

    seq: int
    station: str
    scanner: str
    action: StationAction
    at: datetime
    event_id: str
    ok: bool
    code: str | None = None
    product: str | None = None
    batch_no: str | None = None
    duplicate: bool = False
    compartment: str | None = None
    actor: str | None = None
    refusal: str | None = None
    field: str | None = None
    reason: str | None = None
    stocktake: StocktakeReport | None = None

    def to_json(self, shown: Shown) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "station": self.station,
            "scanner": self.scanner,
            "action": str(self.action),
            "at": self.at.isoformat(),
            "event_id": self.event_id,
            "ok": self.ok,
            "code": self.code,
            "product": self.product,
            "batch_no": self.batch_no,
            "duplicate": self.duplicate,
            "compartment": self.compartment,
            "actor": self.actor,
            "refusal": self.refusal,
            "field": self.field,
            "reason": shown.optional_text(self.reason),
            "stocktake": None if self.stocktake is None else _report_json(self.stocktake),
        }


def _report_json(report: StocktakeReport) -> dict[str, Any]:
    keys = sorted(report.book.keys() | report.physical.keys())
    return {
        "consistent": report.consistent,
        "lines": [
            {
                "product_id": product,
                "batch_no": batch,
                "book": report.book.get((product, batch), 0),
                "physical": report.physical.get((product, batch), 0),
            }
            for product, batch in keys
        ],
        "missing": list(report.missing),
        "unexpected": list(report.unexpected),
    }


@dataclass(slots=True)
class _Session:
    """One stocktake at one station: the packages scanned so far, each counted once."""

    started_at: datetime
    last_at: datetime
    scans: dict[str, bytes] = field(default_factory=dict)


class LedgerScans:
    """The ledger's scan listener; call it with each committed scan. `acts_for` names the
    account each scan acts for. `locations` holds the configured compartments (the running
    gateway shares the excursion service's); without it, the stations' own compartments."""

    def __init__(
        self,
        book: LedgerBook,
        settings: LedgerSettings,
        clock: Clock,
        acts_for: ActsFor,
        locations: StockLocations | None = None,
    ) -> None:
        self.book = book
        self.settings = settings
        self.clock = clock
        self.acts_for = acts_for
        if locations is None:
            locations = StockLocations(book.db, book.stock, settings.compartments.values())
        self.locations = locations
        self._feeds: dict[str, deque[StationResult]] = {
            station: deque(maxlen=FEED_SIZE) for station in settings.stations
        }
        self._seen: OrderedDict[int, StationResult] = OrderedDict()
        self._sessions: dict[str, _Session] = {}
        self.accepted = 0
        self.refused = 0

    async def __call__(self, stored: StoredScan) -> None:
        self.handle(stored)
        self._advance(stored.seq)

    def catch_up(self, store: ScanStore) -> int:
        """Apply the scans committed after the last one applied (the gateway stopped between
        a scan's commit and its ledger action); returns how many reached the ledger. Call it
        before the scanners start. The first time, scans taken before the ledger was
        configured are left alone."""
        text = read_meta(self.book.db, META_APPLIED_SEQ)
        if text is None:
            self._advance(store.last_seq())
            return 0
        cursor, applied = int(text), 0
        while batch := store.after(cursor, CATCH_UP_CHUNK):
            applied += sum(1 for stored in batch if self.handle(stored) is not None)
            cursor = batch[-1].seq
            self._advance(cursor)
        if applied:
            log.info("%d scan(s) committed before the last stop applied to the ledger", applied)
        return applied

    def _advance(self, seq: int) -> None:
        """Remember the last scan applied (a failure only means it is looked at again)."""
        try:
            write_meta(self.book.db, {META_APPLIED_SEQ: str(seq)})
        except LedgerError as error:
            log.warning("scan %d: ledger cursor not saved: %s", seq, error)

    def stations(self) -> dict[str, StationAction]:
        return dict(self.settings.stations)

    def needs(self) -> dict[str, Action]:
        """What a scan at each station needs of the account it acts for."""
        return {station: NEEDS[action] for station, action in self.settings.stations.items()}

    def feed(self, station: str, limit: int = FEED_SIZE) -> list[StationResult]:
        """The station's recent results, newest first."""
        results = list(self._feeds.get(station, ()))
        results.reverse()
        return results[:limit]

    def handle(self, stored: StoredScan) -> StationResult | None:
        """Apply one scan; None when it is not for the ledger (no ledger station, a label)."""
        station = stored.scan.station
        action = self.settings.stations.get(station)
        if action is None:
            return None
        earlier = self._seen.get(stored.seq)
        if earlier is not None:
            return earlier
        if _is_fridge_label(stored.scan.raw):
            return None
        result = self._apply(stored, action)
        self._remember(result)
        return result

    def _apply(self, stored: StoredScan, action: StationAction) -> StationResult:
        scan = stored.scan
        base = StationResult(
            seq=stored.seq, station=scan.station, scanner=scan.scanner, action=action,
            at=self.clock.now(), event_id=f"scan:{stored.seq}", ok=False,
        )  # fmt: skip
        try:
            actor = authorize(self.acts_for(stored), NEEDS[action]).name
        except ForbiddenError as error:
            log.info("scan %d at %s (%s) refused: %s", stored.seq, scan.station, action, error)
            return _with(base, refusal=error.code, field="account", reason=str(error))
        base = _with(base, actor=actor)
        try:
            item = self.book.stock.resolve_scan(scan.raw)
            described = {
                "code": item.code,
                "product": item.product.name,
                "batch_no": item.batch.batch_no,
            }
            if action is StationAction.STOCKTAKE:
                report = self._stocktake(scan.station, item.code, scan.raw)
                return _with(base, ok=True, stocktake=report, **described)
            compartment = self.settings.compartments.get(scan.station)
            if compartment is not None:
                duplicate = self._place(action, scan.raw, compartment, base.event_id, actor)
                return _with(
                    base, ok=True, duplicate=duplicate, compartment=compartment, **described
                )
            event = self._move(action, scan.raw, base.event_id, actor)
            return _with(base, ok=True, duplicate=event.duplicate, **described)
        except LedgerError as error:
            log.info("scan %d at %s (%s) refused: %s", stored.seq, scan.station, action, error)
            return _with(base, refusal=error.code, field=error.field, reason=error.reason)

    def _place(
        self, action: StationAction, raw: bytes, compartment: str, event_id: str, actor: str
    ) -> bool:
        """Receive into or move to the station's compartment; True when already done."""
        if action is StationAction.MOVE:
            return self.locations.move([raw], compartment, event_id=event_id, actor=actor).duplicate
        received, _ = self.locations.receive_into(raw, compartment, event_id=event_id, actor=actor)
        return received.duplicate

    def _move(self, action: StationAction, raw: bytes, event_id: str, actor: str) -> EventResult:
        if action is StationAction.RECEIVE:
            return self.book.stock.receive(raw, event_id=event_id, actor=actor)
        return self.book.stock.administer(raw, event_id=event_id, actor=actor)

    def _stocktake(self, station: str, code: str, raw: bytes) -> StocktakeReport:
        now = self.clock.now()
        session = self._sessions.get(station)
        idle = timedelta(minutes=self.settings.stocktake_idle_min)
        if session is None or now - session.last_at >= idle:
            session = self._sessions[station] = _Session(now, now)
            log.info("stocktake at %s: a new session starts", station)
        session.scans.setdefault(code, raw)
        session.last_at = now
        return self.book.stock.stocktake(list(session.scans.values()))

    def _remember(self, result: StationResult) -> None:
        self._feeds[result.station].append(result)
        self._seen[result.seq] = result
        while len(self._seen) > SEEN_SIZE:
            self._seen.popitem(last=False)
        if result.ok:
            self.accepted += 1
        else:
            self.refused += 1

    def health(self) -> dict[str, Any]:
        return {
            "stations": {name: str(action) for name, action in self.settings.stations.items()},
            "accepted": self.accepted,
            "refused": self.refused,
            "stocktake_sessions": {
                station: {
                    "started_at": session.started_at.isoformat(),
                    "packages": len(session.scans),
                }
                for station, session in self._sessions.items()
            },
        }


def _with(result: StationResult, **changes: Any) -> StationResult:
    return replace(result, **changes)


def _is_fridge_label(raw: bytes) -> bool:
    try:
        return isinstance(classify(raw), FridgeLabel)
    except LedgerError:
        return False  # not a label: the station's action refuses it with the reason
