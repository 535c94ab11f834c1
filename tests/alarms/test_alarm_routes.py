"""The alarm API: acknowledge, close, silence, the signed link page, and every refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from alerts.ack_links import AckClaim, sign
from gateway.auth.policy import Role
from gateway.web.routes.alarms import add_alarm_routes
from tests.access_support import as_roles, roles_from_header
from tests.alarms.conftest import SECRET, T0, UNIT, Harness

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def client(harness: Harness) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application(middlewares=[roles_from_header])
    add_alarm_routes(app, harness.alarms)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def open_alarm(harness: Harness) -> str:
    await harness.minutes(16, 9.5)
    (alarm_id,) = harness.alarms.core.escalation.alarms
    return alarm_id


async def error(response: ClientResponse, status: int) -> str:
    assert response.status == status
    body = await response.json()
    message = body["error"]
    assert isinstance(message, str)
    return message


async def test_ack_and_close_over_http_and_every_refusal(
    harness: Harness, client: TestClient[web.Request, web.Application]
) -> None:
    alarm_id = await open_alarm(harness)
    by_no, by_id = "/api/alarms/1", f"/api/alarms/{alarm_id.replace('/', '%2F')}"

    wang = as_roles(Role.MANAGER, name="wang.fang", person="wang")

    async def ack(ref: str, body: object, headers: dict[str, str] = wang) -> ClientResponse:
        return await client.post(f"{ref}/ack", json=body, headers=headers)

    response = await client.post(f"{by_no}/ack", data=b"{how", headers=wang)
    message = await error(response, 400)
    assert "not valid JSON" in message
    assert '{"how": "web"}' in message
    message = await error(await ack(by_no, {"how": "by pigeon", "extra": 1}), 422)
    assert message.startswith("extra: Extra inputs are not permitted")
    message = await error(await ack(by_no, {}, as_roles(Role.MANAGER, name="clerk")), 403)
    assert "clerk answers for no alarm person" in message
    assert "li, wang, zhao" in message
    message = await error(await ack(by_no, {"person": "li"}), 403)
    assert "cannot act for 'li'" in message
    message = await error(await ack(by_no, {}, as_roles(Role.MANAGER, person="nobody")), 403)
    assert "'nobody' is not in any tier" in message
    assert "li, wang, zhao" in message
    message = await error(await ack(by_no, {}, as_roles(Role.VACCINATOR, person="wang")), 403)
    assert "may not alarm_ack" in message
    message = await error(await ack(by_no, {"unit": "6101030299"}), 403)
    assert "this gateway serves 6101030203" in message
    message = await error(await ack("/api/alarms/99", {}), 404)
    assert "GET /api/alarms" in message
    close = {"cause": "压缩机故障", "action": "转移疫苗"}
    message = await error(await client.post(f"{by_id}/close", json=close, headers=wang), 409)
    assert "still holds" in message
    assert "close after the condition has cleared" in message

    response = await ack(by_id, {"person": "wang", "how": "web"})
    assert response.status == 200
    assert (await response.json())["transitions"][0]["kind"] == "acknowledged"

    await harness.minutes(10, 5.0)
    response = await client.post(f"{by_no}/close", json=close, headers=wang)
    assert response.status == 200
    message = await error(await ack(by_no, {}, as_roles(Role.HEAD, person="li")), 409)
    assert "already closed" in message
    message = await error(await client.post(f"{by_no}/close", json=close, headers=wang), 409)

    listing = await (await client.get("/api/alarms", headers=wang)).json()
    (alarm,) = listing["alarms"]
    assert alarm["status"] == "closed"
    assert [a["person"] for a in alarm["acks"]] == ["wang"]
    assert alarm["closed_by"] == "wang"
    await error(await client.get("/api/alarms?recent=x", headers=wang), 400)
    await error(await client.get("/api/alarms"), 401)


async def test_signed_link_page(
    harness: Harness, client: TestClient[web.Request, web.Application]
) -> None:
    alarm_id = await open_alarm(harness)
    (row,) = [r for r in harness.alarms.store.outbox_all() if r.entry.channel == "console"]
    path = "/ack/" + row.ack_link.rsplit("/ack/", 1)[1]

    response = await client.get(path[:-3] + "AAA")
    assert response.status == 403
    assert "链接无效" in await response.text()
    expired = sign(AckClaim(alarm_id, UNIT, "wang", T0 + timedelta(minutes=1)), SECRET)
    response = await client.get(f"/ack/{expired}")
    assert response.status == 410
    assert "链接已过期" in await response.text()
    response = await client.get("/ack/garbage")
    assert response.status == 403

    for _ in range(3):  # a link preview, a mail scanner, the person: looking changes nothing
        response = await client.get(path)
        assert response.status == 200
        page = await response.text()
        assert response.content_type == "text/html"
        assert response.headers["Cache-Control"] == "no-store"
        assert "王芳（wang）" in page, "who"
        assert "温度过高：" in page, "which alarm"
        assert '<form method="post">' in page
        assert "我已到场，确认" in page
    assert harness.alarms.core.escalation.alarms[alarm_id].acks == ()
    response = await client.post(path)
    assert response.status == 200
    assert "已确认到场" in await response.text()
    assert [a.person for a in harness.alarms.core.escalation.alarms[alarm_id].acks] == ["wang"]
    again = await (await client.post(path)).text()
    assert "此前已确认过" in again
    forged = await client.post(path[:-3] + "AAA")
    assert forged.status == 403
    timeline = harness.alarms.view()["alarms"][0]["timeline"]
    assert [(t["kind"], t["who"], t["detail"]) for t in timeline][-1] == (
        "acknowledged",
        "wang",
        "link",
    )


async def test_silence(harness: Harness, client: TestClient[web.Request, web.Application]) -> None:
    until = (T0 + timedelta(hours=2)).isoformat()
    body = {"why": "除霜", "until": until, "scope": "F1"}
    technician = as_roles(Role.TECHNICIAN, name="wang")
    message = await error(await client.post("/api/silences", json=body), 401)
    assert "sign in" in message
    vaccinator = as_roles(Role.VACCINATOR, name="wang")
    message = await error(await client.post("/api/silences", json=body, headers=vaccinator), 403)
    assert "may not alarm_silence" in message
    other = body | {"who": "li"}
    message = await error(await client.post("/api/silences", json=other, headers=technician), 403)
    assert "not 'li'" in message
    response = await client.post("/api/silences", json=body, headers=technician)
    assert response.status == 200
    await harness.minutes(20, 9.5)
    assert harness.robot.sent == []  # silenced: opened, but nobody paged
    (alarm,) = harness.alarms.view()["alarms"]
    assert alarm["suppressed_by"] == "silence #1 of F1 by wang: 除霜"
    naive = body | {"until": "2026-03-02T12:00:00"}
    message = await error(await client.post("/api/silences", json=naive, headers=technician), 422)
    assert "no UTC offset" in message
    past = body | {"until": T0.isoformat()}
    message = await error(await client.post("/api/silences", json=past, headers=technician), 422)
    assert "not in the future" in message
