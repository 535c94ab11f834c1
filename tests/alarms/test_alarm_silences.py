"""Silences are bounded and ended: a real scope, a maximum length, a bounded reason, a
unit-wide one only for a tier account, ended early by an account that may, audited; an alarm
that opens during one is recorded and notifies when it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from gateway.auth.policy import Role
from gateway.web.routes.alarms import add_alarm_routes
from tests.access_support import as_roles, roles_from_header
from tests.alarms.conftest import T0, Harness

pytestmark = pytest.mark.asyncio
Client = TestClient[web.Request, web.Application]

TECHNICIAN = as_roles(Role.TECHNICIAN, name="zhang.tech")
MANAGER = as_roles(Role.MANAGER, name="wang.fang", person="wang")
HEAD = as_roles(Role.HEAD, name="li.qiang", person="li")
VACCINATOR = as_roles(Role.VACCINATOR, name="chen")


@pytest_asyncio.fixture
async def client(harness: Harness) -> AsyncIterator[Client]:
    app = web.Application(middlewares=[roles_from_header])
    add_alarm_routes(app, harness.alarms)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def hours(count: float) -> str:
    return (T0 + timedelta(hours=count)).isoformat()


async def refused(response: ClientResponse, status: int, code: str | None = None) -> str:
    body: dict[str, Any] = await response.json()
    assert response.status == status, body
    if code is not None:
        assert body["code"] == code
    message = body["error"]
    assert isinstance(message, str)
    return message


@pytest.mark.parametrize(
    ("body", "status", "code", "says"),
    [
        ({"scope": "F9"}, 422, "silence_scope_unknown", "use one of F1, F1/冷藏, F1/冷冻"),
        ({"scope": "F1/冷柜"}, 422, "silence_scope_unknown", "no fridge or compartment"),
        ({"scope": "rs485-1"}, 422, "silence_scope_unknown", "no fridge or compartment"),
        ({"until": "9999-12-31T23:59:59+08:00"}, 422, "silence_refused", "at most 4 h"),
        ({"until": hours(4.01)}, 422, "silence_refused", "at most 4 h"),
        ({"until": hours(-1)}, 422, "silence_refused", "not in the future"),
        ({"why": "除霜" * 101}, 422, "silence_refused", "at most 200 are kept"),
        ({"why": "x" * 1_000_000}, 422, None, "String should have at most 2000 characters"),
        ({"why": " "}, 422, "silence_refused", "needs who asked for it and why"),
    ],
)
async def test_bad_silences_are_refused_and_change_nothing(
    harness: Harness,
    client: Client,
    body: dict[str, str],
    status: int,
    code: str | None,
    says: str,
) -> None:
    request = {"why": "除霜", "until": hours(2), "scope": "F1"} | body
    message = await refused(
        await client.post("/api/silences", json=request, headers=TECHNICIAN), status, code
    )
    assert says in message
    assert harness.alarms.silences() == ()


async def test_a_unit_wide_silence_needs_a_manager_or_head(
    harness: Harness, client: Client
) -> None:
    body = {"why": "盘点", "until": hours(1)}
    message = await refused(
        await client.post("/api/silences", json=body, headers=TECHNICIAN), 403, "forbidden"
    )
    assert "may not alarm_silence_unit" in message
    response = await client.post("/api/silences", json=body, headers=HEAD)
    assert response.status == 200
    (silence,) = harness.alarms.silences()
    assert (silence.no, silence.scope, silence.who) == (1, None, "li")
    # A technician may not end it either; the manager may.
    message = await refused(
        await client.post("/api/silences/1/end", headers=TECHNICIAN), 403, "forbidden"
    )
    assert "alarm_silence_unit" in message
    assert (await client.post("/api/silences/1/end", headers=MANAGER)).status == 200
    assert harness.alarms.silences() == ()


async def test_ending_early_notifies_the_alarm_that_opened_during_the_silence(
    harness: Harness, client: Client
) -> None:
    body = {"why": "除霜", "until": hours(3), "scope": "F1/冷藏"}
    assert (await client.post("/api/silences", json=body, headers=TECHNICIAN)).status == 200
    await harness.minutes(40, 9.5)
    assert harness.robot.sent == []  # opened at minute 15, recorded, nobody paged
    (alarm,) = harness.alarms.view()["alarms"]
    assert alarm["status"] == "active"
    assert alarm["suppressed_by"] == "silence #1 of F1/冷藏 by zhang.tech: 除霜"

    await refused(await client.post("/api/silences/1/end", headers=VACCINATOR), 403)
    await refused(
        await client.post("/api/silences/7/end", headers=TECHNICIAN), 404, "silence_unknown"
    )
    await refused(
        await client.post("/api/silences/x/end", headers=TECHNICIAN), 404, "silence_unknown"
    )
    response = await client.post("/api/silences/1/end", headers=TECHNICIAN)
    assert response.status == 200
    await harness.minutes(1, 9.5)
    assert harness.robot_log() == [(40.0, "wang", "【冷链报警】一级（疫苗管理员）")]
    await refused(await client.post("/api/silences/1/end", headers=TECHNICIAN), 404)

    # Escalation counts from the end of the silence: tier 2 at +30 min from minute 40.
    await harness.minutes(28, 9.5)
    assert "li" not in {person for _, person, _ in harness.robot_log()}
    await harness.minutes(1, 9.5)
    assert (70.0, "li", "【冷链报警升级】二级（科室负责人）") in harness.robot_log()

    audit = [
        (t.kind, t.who, t.detail)
        for t in harness.alarms.store.transitions()
        if t.kind.startswith("silence")
    ]
    assert audit == [
        (
            "silence_started",
            "zhang.tech",
            f"silence #1 of F1/冷藏 until {hours(3)}: 除霜",
        ),
        ("silence_ended", "zhang.tech", "silence #1 of F1/冷藏 ended early by zhang.tech: 除霜"),
    ]


async def test_a_silence_that_runs_out_reevaluates_what_opened_during_it(
    harness: Harness, client: Client
) -> None:
    body = {"why": "除霜", "until": hours(1), "scope": "F1"}
    assert (await client.post("/api/silences", json=body, headers=MANAGER)).status == 200
    await harness.minutes(59, 9.5)
    assert harness.robot.sent == []
    await harness.minutes(2, 9.5)
    assert harness.robot_log() == [(60.0, "wang", "【冷链报警】一级（疫苗管理员）")]
    (ended,) = [t for t in harness.alarms.store.transitions() if t.kind == "silence_ended"]
    assert ended.detail == "silence #1 of F1 ended: 除霜"
