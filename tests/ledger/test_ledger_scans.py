"""Scans → ledger: station actions on the real ledger file, once per scan event, and the
station feed over HTTP (scans posted to `POST /api/scans` reach the ledger)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.auth.policy import Role
from gateway.core.clock import FakeClock
from gateway.ledgers.book import LedgerBook, open_ledger_book
from gateway.ledgers.scans import LedgerScans
from gateway.storage.ledger.stock_values import IN_STOCK, USED_UP
from gateway.storage.registry import SCANS
from gateway.storage.scans import ScanStore, StoredScan, scan_sink
from gateway.web.routes.ledger_stations import add_ledger_station_routes
from gateway.web.routes.scans import add_scan_routes
from ledger.errors import LedgerError
from ledger.settings import LedgerSettings, StationAction
from probes.scan import Scan
from tests.access_support import acting_as, as_roles, roles_from_header, user
from tests.ledger.conftest import HEPB, HEPB_BATCH, OLD_BATCH, SHIPMENT, code
from tests.ledger.test_vaccinations_upload import ACTOR, ADULT, DOSE

SETTINGS = LedgerSettings(
    platform_url="http://127.0.0.1:9/upload",
    stations={
        "receive-desk": StationAction.RECEIVE,
        "vaccination-1": StationAction.ADMINISTER,
        "stocktake": StationAction.STOCKTAKE,
    },
    stocktake_idle_min=30,
)
WANG = user("王芳", Role.MANAGER)
LI = user("李医生", Role.VACCINATOR)
# The accounts the stations' wired scanners act for, and two that post scans over HTTP.
ACTS_FOR = acting_as(
    {"receive-desk": WANG, "vaccination-1": LI, "stocktake": WANG},
    {"wang.fang": WANG, "li": LI},
)


@pytest.fixture
def book(tmp_path: Path, clock: FakeClock) -> Iterator[LedgerBook]:
    opened = open_ledger_book(
        tmp_path, clock, unit_code="6101030203", platform_url=SETTINGS.platform_url
    )
    opened.catalogue.import_json(json.dumps(SHIPMENT))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def scans(book: LedgerBook, clock: FakeClock) -> LedgerScans:
    return LedgerScans(book, SETTINGS, clock, ACTS_FOR)


def scan(seq: int, raw: str | bytes, station: str, clock: FakeClock) -> StoredScan:
    data = raw.encode() if isinstance(raw, str) else raw
    return StoredScan(seq, Scan(data, "desk", station, clock.now()))


def test_receive_once_per_scan_event(
    scans: LedgerScans, book: LedgerBook, clock: FakeClock
) -> None:
    first = scans.handle(scan(1, code(HEPB, 1), "receive-desk", clock))
    again = scans.handle(scan(1, code(HEPB, 1), "receive-desk", clock))
    assert first is not None
    assert first.ok
    assert (first.event_id, first.batch_no, first.product) == ("scan:1", HEPB_BATCH, "乙肝疫苗")
    assert again == first
    # a second scan event of the same package is refused, naming the field and the reason
    second = scans.handle(scan(2, code(HEPB, 1), "receive-desk", clock))
    assert second is not None
    assert not second.ok
    assert second.field == "trace_code"
    assert second.reason is not None
    assert "already received" in second.reason
    assert book.stock.state(code(HEPB, 1)).state == IN_STOCK
    assert book.db.conn.execute("SELECT COUNT(*) FROM stock_events").fetchone() == (1,)
    assert [r.seq for r in scans.feed("receive-desk")] == [2, 1]


def test_restart_does_not_repeat_a_scan(book: LedgerBook, clock: FakeClock) -> None:
    """The event id is the scan's seq: a new listener (a restart) given the same scan again
    changes nothing."""
    LedgerScans(book, SETTINGS, clock, ACTS_FOR).handle(
        scan(7, code(HEPB, 2), "receive-desk", clock)
    )
    result = LedgerScans(book, SETTINGS, clock, ACTS_FOR).handle(
        scan(7, code(HEPB, 2), "receive-desk", clock)
    )
    assert result is not None
    assert result.ok
    assert result.duplicate
    assert book.db.conn.execute("SELECT COUNT(*) FROM stock_events").fetchone() == (1,)


def test_administer_and_refusals(scans: LedgerScans, book: LedgerBook, clock: FakeClock) -> None:
    not_received = scans.handle(scan(1, code(HEPB, 3), "vaccination-1", clock))
    assert not_received is not None
    assert not not_received.ok
    assert not_received.reason is not None
    assert "was not received" in not_received.reason
    scans.handle(scan(2, code(HEPB, 3), "receive-desk", clock))
    given = scans.handle(scan(3, code(HEPB, 3), "vaccination-1", clock))
    assert given is not None
    assert given.ok
    assert book.stock.state(code(HEPB, 3)).state == USED_UP
    twice = scans.handle(scan(4, code(HEPB, 3), "vaccination-1", clock))
    assert twice is not None
    assert not twice.ok
    assert twice.reason is not None
    assert "used up" in twice.reason
    unknown = scans.handle(scan(5, "hello", "vaccination-1", clock))
    assert unknown is not None
    assert not unknown.ok
    assert unknown.field is not None


def test_expired_batch_refused_at_receive(scans: LedgerScans, clock: FakeClock) -> None:
    result = scans.handle(scan(1, code(HEPB, 99), "receive-desk", clock))
    assert result is not None
    assert not result.ok
    assert result.field == "batch_no"
    assert result.reason is not None
    assert OLD_BATCH in result.reason


def test_other_stations_and_fridge_labels_pass(scans: LedgerScans, clock: FakeClock) -> None:
    assert scans.handle(scan(1, code(HEPB, 1), "somewhere-else", clock)) is None
    label = "CCFRIDGE:6101030203:F1"
    assert scans.handle(scan(2, label, "receive-desk", clock)) is None
    assert scans.feed("receive-desk") == []


@pytest.mark.asyncio
async def test_stocktake_session(scans: LedgerScans, clock: FakeClock) -> None:
    for n in (1, 2, 3):
        scans.handle(scan(n, code(HEPB, n), "receive-desk", clock))
    first = scans.handle(scan(10, code(HEPB, 1), "stocktake", clock))
    scans.handle(scan(11, code(HEPB, 1), "stocktake", clock))  # the same box scanned twice
    last = scans.handle(scan(12, code(HEPB, 2), "stocktake", clock))
    assert first is not None
    assert last is not None
    assert last.stocktake is not None
    assert last.stocktake.physical == {(HEPB, HEPB_BATCH): 2}
    assert last.stocktake.book == {(HEPB, HEPB_BATCH): 3}
    assert last.stocktake.missing == (code(HEPB, 3),)
    assert not last.stocktake.consistent
    await clock.advance(31 * 60)  # idle: the next scan starts a new session
    fresh = scans.handle(scan(13, code(HEPB, 3), "stocktake", clock))
    assert fresh is not None
    assert fresh.stocktake is not None
    assert fresh.stocktake.physical == {(HEPB, HEPB_BATCH): 1}


@pytest_asyncio.fixture
async def client(
    tmp_path: Path, scans: LedgerScans, clock: FakeClock
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    store = ScanStore(tmp_path / SCANS.file)
    app = web.Application(middlewares=[roles_from_header])
    add_scan_routes(app, store, clock, record=scan_sink(store, [scans]))
    add_ledger_station_routes(app, scans)
    try:
        async with TestClient(TestServer(app)) as test_client:
            yield test_client
    finally:
        store.close()


@pytest.mark.asyncio
async def test_posted_scans_reach_the_ledger_and_the_feed(
    client: TestClient[web.Request, web.Application], book: LedgerBook
) -> None:
    manager = as_roles(Role.MANAGER, name="wang.fang")
    headers = as_roles(Role.VACCINATOR, name="li")
    for raw, station, poster in ((code(HEPB, 4), "receive-desk", manager),
                                 (code(HEPB, 4), "vaccination-1", headers),
                                 (code(HEPB, 4), "vaccination-1", headers)):  # fmt: skip
        posted = await client.post(
            "/api/scans", json={"raw": raw, "station": station, "scanner": "api"}, headers=poster
        )
        assert posted.status in (200, 201), await posted.text()
        assert (await posted.json())["account"] == poster["X-Test-User"]
    assert book.stock.state(code(HEPB, 4)).state == USED_UP
    response = await client.get("/api/ledger/stations/vaccination-1/feed", headers=headers)
    assert response.status == 200
    body = await response.json()
    assert body["action"] == "administer"
    assert [(r["ok"], r["field"]) for r in body["results"]] == [(False, "trace_code"), (True, None)]
    assert body["results"][1]["event_id"] == f"scan:{body['results'][1]['seq']}"
    assert body["results"][1]["actor"] == "李医生", "the poster's account, not the station's"
    limited = await client.get("/api/ledger/stations/vaccination-1/feed?limit=1", headers=headers)
    assert len((await limited.json())["results"]) == 1


@pytest.mark.asyncio
async def test_feed_refusals(client: TestClient[web.Request, web.Application]) -> None:
    assert (await client.get("/api/ledger/stations/receive-desk/feed")).status == 401
    headers = as_roles(Role.COUNTY)
    unknown = await client.get("/api/ledger/stations/nowhere/feed", headers=headers)
    assert unknown.status == 404
    assert "[ledger.stations]" in (await unknown.json())["error"]
    bad = await client.get("/api/ledger/stations/stocktake/feed?limit=0", headers=headers)
    assert bad.status == 400


def test_dose_record_reuses_the_scan_event(
    scans: LedgerScans, book: LedgerBook, clock: FakeClock
) -> None:
    """The administer station's event id, reused by the dose record, gives one dose."""
    scans.handle(scan(1, code(HEPB, 5), "receive-desk", clock))
    given = scans.handle(scan(2, code(HEPB, 5), "vaccination-1", clock))
    assert given is not None
    assert given.ok
    book.vaccinations.register(ADULT, actor=ACTOR)
    record = book.vaccinations.record_dose(
        archive_no=ADULT.archive_no, scan=code(HEPB, 5), event_id=given.event_id, dose_no=1,
        **DOSE,
    )  # fmt: skip
    assert record.trace_code == code(HEPB, 5)
    administered = book.db.conn.execute(
        "SELECT COUNT(*) FROM stock_events WHERE kind = 'administer'"
    ).fetchone()
    assert administered == (1,)
    assert book.queued.is_set()  # the upload task is woken


def test_catch_up_applies_scans_a_crash_left_behind(
    tmp_path: Path, scans: LedgerScans, book: LedgerBook, clock: FakeClock
) -> None:
    store = ScanStore(tmp_path / SCANS.file)
    try:
        store.add(Scan(code(HEPB, 6).encode(), "desk", "receive-desk", clock.now()))
        assert scans.catch_up(store) == 0  # before the ledger was configured: left alone
        for n in (7, 8):  # committed, then the gateway stopped before the listener ran
            store.add(Scan(code(HEPB, n).encode(), "desk", "receive-desk", clock.now()))
        store.add(Scan(b"CCFRIDGE:6101030203:F1", "desk", "receive-desk", clock.now()))
        restarted = LedgerScans(book, SETTINGS, clock, ACTS_FOR)
        assert restarted.catch_up(store) == 2
        assert restarted.catch_up(store) == 0
    finally:
        store.close()
    states = {n: book.stock.state(code(HEPB, n)).state for n in (7, 8)}
    assert states == {7: IN_STOCK, 8: IN_STOCK}
    with pytest.raises(LedgerError, match="never received"):
        book.stock.state(code(HEPB, 6))
