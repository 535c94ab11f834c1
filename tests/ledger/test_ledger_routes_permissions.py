"""Every state-changing ledger route × every role: allowed roles get past the check (success
or a validation refusal), the others 403, nobody signed in 401; a refused request changes
nothing. The views with their own action (upload, audit) are checked the same way. A body
value "{role}" becomes the role's name (a new archive number per role)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.auth.policy import PERMISSIONS, Action, Role
from gateway.core.clock import FakeClock
from tests.access_support import as_roles
from tests.ledger.conftest import COUNTY_CDC, HEPB, HEPB_BATCH, SHIPMENT, VILLAGE, code
from tests.ledger.test_ledger_routes_support import (
    DOSE,
    MANAGER,
    PERSON,
    counts,
    give,
    ok,
    registered,
    served,
    stock_in,
)

pytestmark = pytest.mark.asyncio

ROUTES: list[tuple[str, str, Action, dict[str, Any] | None]] = [
    ("POST", "/api/ledger/catalogue/import", Action.CATALOGUE_IMPORT, SHIPMENT),
    ("POST", "/api/ledger/stock/receive", Action.STOCK_RECEIVE,
     {"scan": code(HEPB, 10), "event_id": "p-r"}),
    ("POST", "/api/ledger/stock/issue", Action.STOCK_ISSUE,
     {"scan": code(HEPB, 2), "event_id": "p-i", "to_unit": VILLAGE}),
    ("POST", "/api/ledger/stock/administer", Action.ADMINISTER,
     {"scan": code(HEPB, 3), "event_id": "p-a"}),
    ("POST", "/api/ledger/stock/requests", Action.STOCK_REQUEST,
     {"kind": "scrap", "scans": [code(HEPB, 4)], "approval_id": "p-ap", "reason": "破损",
      "reason_code": "03"}),
    ("POST", "/api/ledger/stock/requests/ap1/decision", Action.STOCK_APPROVE, {"approve": True}),
    ("POST", "/api/ledger/stock/stocktake", Action.STOCKTAKE, {"scans": [code(HEPB, 2)]}),
    ("POST", "/api/ledger/stock/adjustments", Action.STOCKTAKE,
     {"product_id": HEPB, "batch_no": HEPB_BATCH, "packages": 1, "doses": 1, "reason": "盘盈",
      "event_id": "p-adj"}),
    ("POST", "/api/ledger/stock/summary-issue", Action.STOCK_ISSUE, {}),
    ("POST", "/api/ledger/recipients", Action.ADMINISTER,
     {**PERSON, "archive_no": "{role}", "id_number": "8" * 18, "name": "{role}"}),  # new people
    ("PUT", f"/api/ledger/recipients/{PERSON['archive_no']}", Action.RECORD_CORRECT,
     {k: v for k, v in PERSON.items() if k != "archive_no"}),
    ("POST", "/api/ledger/doses", Action.ADMINISTER,
     {**DOSE, "scan": code(HEPB, 5), "event_id": "p-d", "dose_no": 2}),
    ("POST", "/api/ledger/doses/d1/correction", Action.RECORD_CORRECT,
     {"reason": "部位录错", "changes": {"site_code": "2"}}),
    ("POST", "/api/ledger/doses/d1/deletion", Action.RECORD_CORRECT, {"reason": "重复录入"}),
    ("GET", "/api/ledger/upload/queue", Action.UPLOAD_VIEW, None),
    ("GET", "/api/ledger/upload/rejections", Action.UPLOAD_VIEW, None),
    ("GET", "/api/ledger/upload/rates", Action.UPLOAD_VIEW, None),
    ("GET", "/api/ledger/summaries", Action.UPLOAD_VIEW, None),
    ("GET", "/api/ledger/audit/reads", Action.AUDIT_VIEW, None),
    ("GET", f"/api/ledger/recipients/{PERSON['archive_no']}", Action.VIEW, None),
    ("POST", "/api/ledger/resolve", Action.VIEW, {"scan": code(HEPB, 1)}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "action", "body"), ROUTES, ids=[f"{m} {p} {a}" for m, p, a, _ in ROUTES]
)
async def test_route_permissions(
    tmp_path: Path, clock: FakeClock, method: str, path: str, action: Action,
    body: dict[str, Any] | None,
) -> None:  # fmt: skip
    async with served(tmp_path, clock) as (book, client):
        await stock_in(client, 1, 2, 3, 4, 5)
        await registered(client)
        await ok(await give(client, 1, 1, "d1"), 201)
        await ok(
            await client.post("/api/ledger/stock/requests", headers=MANAGER, json={
                "kind": "return", "scans": [code(HEPB, 2)], "approval_id": "ap1",
                "reason": "上级调回", "to_unit": COUNTY_CDC}),
            201,
        )  # fmt: skip
        before = counts(book)
        unsigned = await client.request(method, path, json=body)
        assert unsigned.status == 401, await unsigned.text()
        for role in Role:
            sent = body and {
                k: v.format(role=role) if v == "{role}" else v for k, v in body.items()
            }
            response = await client.request(method, path, json=sent, headers=as_roles(role))
            answer = await response.json()
            if role in PERMISSIONS[action]:
                assert response.status in {200, 201, 422}, (role, answer)
                before = counts(book)
            else:
                assert response.status == 403, (role, answer)
                assert action.value in answer["error"]
                assert counts(book) == before, role
