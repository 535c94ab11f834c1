"""The ledger routes inside the whole gateway app (`build_app`): real sign-in, CSRF, the
declared action of every route, and the change audit log naming what each request did."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.auth.policy import Action, Role
from gateway.core.clock import FakeClock
from gateway.web.access import route_actions
from tests.ledger.conftest import HEPB, SHIPMENT, code
from tests.ledger.test_ledger_routes_support import DOSE, PERSON
from tests.web.conftest import T0, full_app, sign_in
from tests.web_support import add_account, csrf

pytestmark = pytest.mark.asyncio
READ_ONLY_POSTS = {"/api/ledger/resolve"}


async def test_ledger_routes_in_the_gateway_app(tmp_path: Path) -> None:
    with full_app(tmp_path / "data", FakeClock(T0)) as site:
        for role in Role:
            add_account(site.accounts, role.value, role)
        declared = route_actions(site.app)
        ledger_routes = [
            route for route in site.app.router.routes()
            if route.resource is not None and route.resource.canonical.startswith("/api/ledger/")
        ]  # fmt: skip
        assert len(ledger_routes) >= 28
        for route in ledger_routes:
            assert route in declared, route
            path = route.resource.canonical if route.resource else ""
            if route.method in {"POST", "PUT"} and path not in READ_ONLY_POSTS:
                assert declared[route] not in {None, Action.VIEW}, route

        async with TestClient(TestServer(site.app, host="127.0.0.1", port=0)) as client:
            unsigned = await client.get("/api/ledger/stock/balances")
            assert unsigned.status == 401
            token = await sign_in(client, "manager")
            imported = await client.post(
                "/api/ledger/catalogue/import", json=SHIPMENT, headers=csrf(token)
            )
            assert imported.status == 201, await imported.text()
            received = await client.post(
                "/api/ledger/stock/receive", json={"scan": code(HEPB, 1), "event_id": "r1"},
                headers=csrf(token),
            )  # fmt: skip
            assert received.status == 201, await received.text()
            without_csrf = await client.post(
                "/api/ledger/stock/receive", json={"scan": code(HEPB, 2), "event_id": "r2"}
            )
            assert without_csrf.status == 403

            token = await sign_in(client, "vaccinator")
            forbidden = await client.post(
                "/api/ledger/stock/receive", json={"scan": code(HEPB, 2), "event_id": "r2"},
                headers=csrf(token),
            )  # fmt: skip
            assert forbidden.status == 403
            person = await client.post("/api/ledger/recipients", json=PERSON, headers=csrf(token))
            assert person.status == 201, await person.text()
            dose = {**DOSE, "scan": code(HEPB, 1), "event_id": "d1", "dose_no": 1}
            given = await client.post("/api/ledger/doses", json=dose, headers=csrf(token))
            assert given.status == 201, await given.text()
            assert (await given.json())["unit_code"] == "6101030203"

            await sign_in(client, "county")
            shown = await client.get(f"/api/ledger/recipients/{PERSON['archive_no']}")
            assert (await shown.json())["name"] == "张*三"

        summaries = [(e.user, e.status, e.summary) for e in site.audit.entries()]
        assert ("vaccinator", 201, f"registered recipient {PERSON['archive_no']}") in summaries
        assert ("vaccinator", 201, f"recorded dose d1 for {PERSON['archive_no']}") in summaries
        assert ("manager", 201, f"receive {code(HEPB, 1)} (event r1)") in summaries
        assert "imported shipment: 2 products, 3 batches, 31 trace codes" in {
            s for _, _, s in summaries
        }
