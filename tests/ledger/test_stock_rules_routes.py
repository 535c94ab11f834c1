"""Seed 002's stock rules over HTTP: the refusals' status and code, who approves, the catalogue
of units imported and shown.

Seed 002, 二.(三).2: "出库至平级、退回上级时均需要上级机构审核通过。接种单位不能平级出库。"
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.auth.policy import Role
from gateway.core.clock import FakeClock
from tests.access_support import as_roles
from tests.ledger.conftest import COUNTY_CDC, HEPB, HEPB_BATCH, PEER, VILLAGE, code
from tests.ledger.test_ledger_routes_support import (
    ADMIN,
    COUNTY,
    HEAD,
    MANAGER,
    counts,
    ok,
    refused,
    served,
    stock_in,
)

pytestmark = pytest.mark.asyncio
UNIT_HEAD = as_roles(Role.UNIT_HEAD, name="zhao")


async def test_refusals_name_the_rule_and_a_reused_event_id_is_a_conflict(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Seed 002: "接种单位不能平级出库"; a replay with a changed payload is 409
    event_id_conflict."""
    async with served(tmp_path, clock) as (book, client):
        await stock_in(client, 1, 2)
        url = "/api/ledger/stock/issue"
        before = counts(book)
        for to_unit, why in ((PEER, "接种单位不能平级出库"), ("abc", "catalogue of units")):
            body = {"scan": code(HEPB, 1), "event_id": "i1", "to_unit": to_unit}
            response = await client.post(url, json=body, headers=MANAGER)
            assert why in await refused(response, 422, "to_unit")
        assert counts(book) == before
        body = {"scan": code(HEPB, 1), "event_id": "i1", "to_unit": VILLAGE}
        await ok(await client.post(url, json=body, headers=MANAGER), 201)
        assert (await ok(await client.post(url, json=body, headers=MANAGER)))["duplicate"]
        changed = await client.post(url, json={**body, "scan": code(HEPB, 2)}, headers=MANAGER)
        await refused(changed, 409, "event_id")
        assert (await changed.json())["code"] == "event_id_conflict"
        adjust = {"product_id": HEPB, "batch_no": HEPB_BATCH, "packages": -1_000_000,
                  "doses": -1_000_000, "reason": "盘亏", "event_id": "adj"}  # fmt: skip
        response = await client.post("/api/ledger/stock/adjustments", json=adjust, headers=MANAGER)
        assert "never go negative" in await refused(response, 422, "doses")
        [balance] = (await ok(await client.get("/api/ledger/stock/balances", headers=MANAGER)))[
            "balances"
        ]
        assert (balance["packages"], balance["doses"]) == (1, 1)


async def test_only_the_upper_level_approves_a_return(tmp_path: Path, clock: FakeClock) -> None:
    """Seed 002: "退回上级时均需要上级机构审核通过": the county decides, never the clinic's
    heads."""
    async with served(tmp_path, clock) as (book, client):
        await stock_in(client, 1)
        ask = {"kind": "return", "scans": [code(HEPB, 1)], "approval_id": "ap1",
               "reason": "近效期调回", "to_unit": COUNTY_CDC}  # fmt: skip
        await ok(await client.post("/api/ledger/stock/requests", json=ask, headers=MANAGER), 201)
        decide = "/api/ledger/stock/requests/ap1/decision"
        before = counts(book)
        for headers in (HEAD, UNIT_HEAD, MANAGER):
            response = await client.post(decide, json={"approve": True}, headers=headers)
            assert response.status == 403, await response.text()
            assert (await response.json())["code"] == "forbidden"
        assert counts(book) == before
        decided = await ok(await client.post(decide, json={"approve": True}, headers=COUNTY))
        assert [e["kind"] for e in decided["events"]] == ["return"]
        life = await ok(await client.get(f"/api/ledger/stock/packages/{code(HEPB, 1)}",
                                         headers=COUNTY))  # fmt: skip
        assert life["state"] == "returned"
        assert life["movements"][-1]["ref"] == f"to {COUNTY_CDC}, approved by county"


async def test_the_catalogue_of_units_is_imported_and_shown(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Seed 002, 附表1: a unit is its 单位编码（十位数）; its level decides where stock may go."""
    async with served(tmp_path, clock) as (_, client):
        url = "/api/ledger/units/import"
        added = "unit_code,name,level,vaccinating\n6101030302,另一村卫生室,村,1\n"
        headers = {**ADMIN, "Content-Type": "text/csv"}
        assert await ok(await client.post(url, data=added, headers=headers), 201) == {"units": 1}
        bad = "unit_code,name,level,vaccinating\n6101030302,另一村卫生室,镇,1\n"
        await refused(await client.post(url, data=bad, headers=headers), 422, "row 2.level")
        listed = await ok(await client.get("/api/ledger/units", headers=MANAGER))
        assert {"unit_code": "6101030302", "name": "另一村卫生室", "level": "village",
                "vaccinating": True} in listed["units"]  # fmt: skip
        assert listed["units"][0]["level"] == "city"
        await stock_in(client, 1)
        body = {"scan": code(HEPB, 1), "event_id": "i1", "to_unit": "6101030302"}
        await ok(await client.post("/api/ledger/stock/issue", json=body, headers=MANAGER), 201)
        reasons = await ok(await client.get("/api/ledger/scrap-reasons", headers=MANAGER))
        assert {"code": "02", "name": "冷链温度异常"} in reasons["reasons"]
