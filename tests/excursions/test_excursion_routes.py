"""The HTTP routes on a small app: placements and moves, contents at a past time, an excursion
recorded on demand from stored readings, dispositions with their permissions and refusals,
the quarantine list, proposals and the requisition plan with its county review."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.auth.policy import Role
from gateway.core.clock import FakeClock
from gateway.ledgers.book import open_ledger_book
from gateway.ledgers.excursion_service import ALARM_SOURCE, ExcursionService, open_excursions
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.readings import ReadingStore
from gateway.web.keys import SETTINGS, SettingsInForce
from gateway.web.routes.excursions import add_excursion_routes
from ledger.stability import load_stability
from probes.reading import ProbeStatus, Reading
from tests.access_support import as_roles, roles_from_header
from tests.alarms.conftest import PROBE, T0, clinic
from tests.excursions.conftest import STABILITY_FILE, covid, hepb, record_warm
from tests.ledger.conftest import COVID, COVID_BATCH, HEPB, HEPB_BATCH, SHIPMENT

pytestmark = pytest.mark.asyncio
Client = TestClient[web.Request, web.Application]
MANAGER = as_roles(Role.MANAGER, name="wang.fang")
VACCINATOR = as_roles(Role.VACCINATOR, name="li")
COUNTY = as_roles(Role.COUNTY, name="县疾控")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ExcursionService]:
    clock = FakeClock(T0)
    settings = clinic(tmp_path / "data")
    with LedgerDB.in_folder(tmp_path) as db, ReadingStore(tmp_path / "r.sqlite3") as readings:
        catalogue = Catalogue(db)
        catalogue.import_json(json.dumps(SHIPMENT))
        stock = StockLedger(db, catalogue, clock)
        # 5 °C, then 40 minutes at 11 °C an hour in, then 5 °C again; one reading a minute.
        readings.write_batch([
            Reading(PROBE, T0 + timedelta(minutes=m), ProbeStatus.OK,
                    11.0 if 60 <= m < 100 else 5.0)
            for m in range(180)
        ])  # fmt: skip
        yield ExcursionService(
            settings, clock, db, stock, readings=readings,
            stability=load_stability(STABILITY_FILE),
        )  # fmt: skip


@pytest_asyncio.fixture
async def client(service: ExcursionService) -> AsyncIterator[Client]:
    app = web.Application(middlewares=[roles_from_header])
    app[SETTINGS] = SettingsInForce(service.settings)
    add_excursion_routes(app, service)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def call(
    client: Client, method: str, path: str, body: Any = None,
    headers: dict[str, str] = MANAGER, status: int = 200,
) -> Any:  # fmt: skip
    response = await client.request(method, path, json=body, headers=headers)
    assert response.status == status, await response.text()
    if response.content_type == "application/json":
        return await response.json()
    return await response.text()


async def test_stock_flows_and_an_excursion_on_demand(
    client: Client, service: ExcursionService
) -> None:
    for n, item in enumerate([hepb(1), hepb(2), covid(1)]):
        body = {"code": item, "compartment": "F1/冷藏", "event_id": f"r{n}"}
        await call(client, "POST", "/api/ledger/stock/receive-into", body, status=201)
    assert isinstance(service.clock, FakeClock)
    service.clock.jump_wall(timedelta(hours=3))
    moved = await call(client, "POST", "/api/ledger/stock/moves",
                       {"codes": [hepb(2)], "compartment": "F1/冷冻", "event_id": "m1"},
                       status=201)  # fmt: skip
    assert moved["codes"] == [hepb(2)]
    assert (moved["compartment"], moved["compartment_name"]) == ("F1/冷冻", "1号冰箱 冷冻")
    then = (T0 + timedelta(hours=1)).isoformat()
    past = await client.get(
        "/api/ledger/stock/contents", params={"compartment": "F1/冷藏", "at": then},
        headers=VACCINATOR,
    )  # fmt: skip
    assert [u["code"] for u in (await past.json())["units"]] == [hepb(1), hepb(2), covid(1)]
    assert (await past.json())["compartment_name"] == "1号冰箱 冷藏"

    window = {"compartment": "F1/冷藏", "start": T0.isoformat(),
              "end": (T0 + timedelta(hours=2)).isoformat()}  # fmt: skip
    preview = await client.get("/api/ledger/excursions/impact", params=window, headers=MANAGER)
    assert (await preview.json())["exposure"]["minutes_above"] == 40
    await call(client, "POST", "/api/ledger/excursions", window, headers=VACCINATOR, status=403)
    recorded = await call(client, "POST", "/api/ledger/excursions", window, status=201)
    assert [b["codes"] for b in recorded["batch_list"]] == [[hepb(1), hepb(2)], [covid(1)]]
    assert recorded["exposure"]["peak_c"] == 11.0
    listed = await call(client, "GET", "/api/ledger/excursions", headers=VACCINATOR)
    assert listed["excursions"][0]["doses"] == 1 + 1 + 2
    held = await call(client, "GET", "/api/ledger/quarantine", headers=VACCINATOR)
    assert held["doses"] == 4
    month = await call(client, "GET", "/api/ledger/excursions/month/2026-03", headers=COUNTY)
    assert (month["excursions"], month["packages_exposed"], month["doses_exposed"]) == (1, 3, 4)
    assert month["doses_by_vaccine"] == {"0201": 2, "5603": 2}
    april = await call(client, "GET", "/api/ledger/excursions/month/2026-04", headers=COUNTY)
    assert april["doses_exposed"] == 0

    proposal = await client.get(
        "/api/ledger/excursions/proposal", params={"product_id": HEPB, "batch_no": HEPB_BATCH},
        headers=VACCINATOR,
    )  # fmt: skip
    assert (await proposal.json())["decision"] == "usable"

    release = {"product_id": HEPB, "batch_no": HEPB_BATCH, "decision": "usable", "vvm_stage": 1}
    refused = await call(client, "POST", "/api/ledger/excursions/dispositions", release,
                         status=422)  # fmt: skip
    assert refused["field"] == "decided_by"
    await call(client, "POST", "/api/ledger/excursions/dispositions",
               release | {"decided_by": "王芳"}, headers=VACCINATOR, status=403)  # fmt: skip
    never = release | {"decided_by": "王芳", "batch_no": "202401B07"}
    refused = await call(client, "POST", "/api/ledger/excursions/dispositions", never, status=422)
    assert "never exposed" in refused["reason"]
    done = await call(client, "POST", "/api/ledger/excursions/dispositions",
                      release | {"decided_by": "王芳"}, status=201)  # fmt: skip
    assert done["decided_by"] == "王芳"
    shown = await call(client, "GET", f"/api/ledger/excursions/{done['excursions'][0]}")
    assert shown["dispositions"][0]["recorded_by"] == "wang.fang"
    held = await call(client, "GET", "/api/ledger/quarantine")
    assert [item["code"] for item in held["packages"]] == [covid(1)]
    discard = {"product_id": COVID, "batch_no": COVID_BATCH, "code": covid(1),
               "decision": "discard", "vvm_stage": 3, "decided_by": "王芳"}  # fmt: skip
    done = await call(client, "POST", "/api/ledger/excursions/dispositions", discard, status=201)
    assert done["scrap_approval_id"]
    assert service.locations.stock.state(covid(1)).held_by == done["scrap_approval_id"]


async def test_an_excursion_says_who_or_which_alarm_recorded_it(
    service: ExcursionService, client: Client
) -> None:
    window = {"compartment": "F1/冷藏", "start": T0.isoformat(),
              "end": (T0 + timedelta(hours=2)).isoformat()}  # fmt: skip
    await call(client, "POST", "/api/ledger/excursions", window, status=201)
    record_warm(
        service.quarantine, "by-alarm", T0 + timedelta(hours=3), 20, source=f"{ALARM_SOURCE}7"
    )
    listed = await call(client, "GET", "/api/ledger/excursions", headers=VACCINATOR)
    sources = {(e["source_by_name"], e["source_alarm"]) for e in listed["excursions"]}
    assert sources == {("wang.fang", None), (None, 7)}  # no accounts here: the name is the id


async def test_bad_requests_are_refused(client: Client) -> None:
    refused = await call(client, "POST", "/api/ledger/stock/moves",
                         {"codes": [hepb(9)], "compartment": "F1/冷藏", "event_id": "m"},
                         status=422)  # fmt: skip
    assert "not in stock (never received)" in refused["reason"]
    assert (refused["code"], refused["params"]) == ("package_not_received", {"code": hepb(9)})
    both = {"codes": [hepb(1)], "product_id": HEPB, "batch_no": HEPB_BATCH, "packages": 1,
            "compartment": "F1/冷藏", "event_id": "p"}  # fmt: skip
    await call(client, "POST", "/api/ledger/stock/placements", both, status=422)
    await call(client, "GET", "/api/ledger/stock/contents", status=400)
    bad_time = await client.get(
        "/api/ledger/excursions/impact",
        params={"compartment": "F1/冷藏", "start": "yesterday", "end": "2026-03-02T10:00+08:00"},
        headers=MANAGER,
    )  # fmt: skip
    assert bad_time.status == 400
    unknown = await client.get(
        "/api/ledger/excursions/impact",
        params={"compartment": "F9/x", "start": T0.isoformat(), "end": T0.isoformat()},
        headers=MANAGER,
    )  # fmt: skip
    assert unknown.status == 422
    await call(client, "GET", "/api/ledger/excursions/nothing", status=404)
    await call(client, "GET", "/api/ledger/requisition/2026-13", status=422)
    await call(client, "GET", "/api/ledger/quarantine", headers={}, status=401)


async def test_requisition_plan_and_review(client: Client) -> None:
    plan = await call(client, "GET", "/api/ledger/requisition/2026-04", headers=COUNTY)
    assert plan["state"] == "proposed"
    csv_text = await call(client, "GET", "/api/ledger/requisition/2026-04?format=csv")
    assert csv_text.startswith("疫苗编码,")
    page = await call(client, "GET", "/api/ledger/requisition/2026-04?format=html")
    assert "疫苗领用计划" in page
    await call(client, "POST", "/api/ledger/requisition/2026-04/review", {}, status=403)
    reviewed = await call(client, "POST", "/api/ledger/requisition/2026-04/review",
                          {"note": "同意"}, headers=COUNTY, status=201)  # fmt: skip
    assert (reviewed["state"], reviewed["reviewed_by"]) == ("reviewed", "县疾控")
    again = await call(client, "POST", "/api/ledger/requisition/2026-04/review", {},
                       headers=COUNTY, status=422)  # fmt: skip
    assert "was reviewed by 县疾控" in again["reason"]


async def test_stock_warnings_from_the_requisition_figures(client: Client) -> None:
    body = {"code": hepb(1), "compartment": "F1/冷藏", "event_id": "r"}
    await call(client, "POST", "/api/ledger/stock/receive-into", body, status=201)
    answer = await call(client, "GET", "/api/ledger/stock/warnings")
    (warning,) = answer["warnings"]
    assert (warning["kind"], warning["usable_doses"], warning["days_covered"]) == (
        "excess", 1, None)  # fmt: skip


async def test_alarm_hook_counts_doses_and_never_fails(
    client: Client, service: ExcursionService
) -> None:
    body = {"code": hepb(1), "compartment": "F1/冷藏", "event_id": "r"}
    await call(client, "POST", "/api/ledger/stock/receive-into", body, status=201)
    assert service.doses_at_risk("F1/冷藏") == 1
    assert service.doses_at_risk("F1/冷冻") == 0
    assert service.doses_at_risk("no such place") is None  # the alarm goes out without it


async def test_open_excursions_reads_stability_beside_the_configuration(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    settings = clinic(tmp_path / "data")
    book = open_ledger_book(
        tmp_path / "data", clock, unit_code="6101030203", platform_url="http://127.0.0.1:9/up"
    )
    with ReadingStore(tmp_path / "r.sqlite3") as readings:
        try:
            beside = open_excursions(
                settings, clock, book, readings, alarms=None, config_path=STABILITY_FILE
            )
            assert beside.stability.products
            alone = open_excursions(settings, clock, book, readings, alarms=None, config_path=None)
            assert alone.stability.products == []
        finally:
            book.close()


@pytest.mark.parametrize("month", ["9999-12", "0000-01", "２０２６-03"])
async def test_a_month_out_of_the_calendars_reach_is_refused(client: Client, month: str) -> None:
    """Regression: 9999-12 and 0000-01 answered 500 (year 10000 and year 0 are no dates)."""
    response = await client.get(f"/api/ledger/excursions/month/{month}", headers=COUNTY)
    body = await response.json()
    assert (response.status, body["code"], body["field"]) == (422, "month_invalid", "month")
