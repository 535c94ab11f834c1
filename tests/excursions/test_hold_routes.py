"""The holds over HTTP: the compartments on hold with the packages held, and a manager's
override (recorded, audited); refusals for a vaccinator, an empty reason, a compartment not
on hold; a scan refused by a hold names its alarm and its code."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from alerts.escalation_state import Alarm, EscalationState
from alerts.model import Condition, ConditionKind
from gateway.auth.policy import Role
from gateway.core.clock import FakeClock
from gateway.ledgers.excursion_service import ExcursionService
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.readings import ReadingStore
from gateway.web.keys import SETTINGS, SettingsInForce
from gateway.web.routes.excursions import add_excursion_routes
from ledger.stability import StabilityTable
from tests.access_support import as_roles, roles_from_header
from tests.alarms.conftest import PROBE, T0, UNIT, clinic
from tests.excursions.conftest import hepb
from tests.ledger.conftest import SHIPMENT

pytestmark = pytest.mark.asyncio
Client = TestClient[web.Request, web.Application]
MANAGER = as_roles(Role.MANAGER, name="wang.fang")
VACCINATOR = as_roles(Role.VACCINATOR, name="li")
WARM = Alarm(
    "too_warm:F1/冷藏:208601@2026-03-02T01:15:00+00:00~1",
    Condition(ConditionKind.TOO_WARM, "F1/冷藏", PROBE),
    since=T0,
    opened_at=T0,
)


@pytest.fixture
def state() -> dict[str, EscalationState]:
    return {"now": EscalationState(UNIT, alarms={WARM.id: WARM})}


@pytest.fixture
def service(tmp_path: Path, state: dict[str, EscalationState]) -> Iterator[ExcursionService]:
    clock = FakeClock(T0)
    with LedgerDB.in_folder(tmp_path) as db, ReadingStore(tmp_path / "r.sqlite3") as readings:
        catalogue = Catalogue(db)
        catalogue.import_json(json.dumps(SHIPMENT))
        stock = StockLedger(db, catalogue, clock)
        service = ExcursionService(
            clinic(tmp_path / "data"), clock, db, stock, readings=readings,
            stability=StabilityTable(), alarm_state=lambda: state["now"],
        )  # fmt: skip
        service.locations.receive_into(hepb(1), "F1/冷藏", event_id="in-1", actor="王芳")
        stock.holds = service.hold_on
        yield service


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
    return await response.json()


async def test_holds_are_listed_and_a_manager_overrides_one(
    client: Client, service: ExcursionService, state: dict[str, EscalationState]
) -> None:
    (hold,) = (await call(client, "GET", "/api/ledger/holds"))["holds"]
    assert hold["compartment"] == "F1/冷藏"
    assert hold["compartment_name"] == "1号冰箱 冷藏"
    assert hold["kind"] == "too_warm"
    assert hold["override"] is None
    assert [u["code"] for u in hold["units"]] == [hepb(1)]

    refused = await call(
        client, "POST", "/api/ledger/stock/moves",
        {"compartment": "F1/冷藏", "event_id": "mv", "codes": [hepb(1)]}, status=422,
    )  # fmt: skip
    assert refused["code"] == "move_to_same_compartment"  # checked before the hold
    refused = await call(
        client, "POST", "/api/ledger/stock/receive-into",
        {"code": hepb(2), "compartment": "F1/冷藏", "event_id": "in-2"}, status=422,
    )  # fmt: skip
    assert refused["code"] == "stock_on_hold"
    hold = "1号冰箱 冷藏 (F1/冷藏) is on hold while alarm (too warm since 2026-03-02 09:00)"
    assert hold in refused["reason"]

    override = {"compartment": "F1/冷藏", "reason": "只剩此批"}
    await call(client, "POST", "/api/ledger/holds/override", override, VACCINATOR, 403)
    blank = override | {"reason": "  "}
    await call(client, "POST", "/api/ledger/holds/override", blank, status=422)
    unknown = override | {"compartment": "F1/冷冻"}
    refused = await call(client, "POST", "/api/ledger/holds/override", unknown, status=422)
    assert "1号冰箱 冷冻 (F1/冷冻) is not on hold" in refused["reason"]
    done = await call(client, "POST", "/api/ledger/holds/override", override, status=201)
    assert done["override"]["by"] == "wang.fang"
    assert done["override"]["by_name"] == "wang.fang"  # no account or alarm person of that id
    assert done["override"]["reason"] == "只剩此批"
    created = await call(
        client, "POST", "/api/ledger/stock/receive-into",
        {"code": hepb(2), "compartment": "F1/冷藏", "event_id": "in-2"}, status=201,
    )  # fmt: skip
    assert created["compartment"] == "F1/冷藏"

    # A new alarm is a new hold: the override of the last one does not carry over.
    again = replace(WARM, id=WARM.id.replace("~1", "~2"))
    state["now"] = EscalationState(UNIT, alarms={again.id: again})
    (hold,) = (await call(client, "GET", "/api/ledger/holds"))["holds"]
    assert hold["override"] is None
