"""The commissioning routes on a small app: permissions of every role, bad bodies, the forms
printed as CSV and as a page."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.auth.policy import Role
from gateway.commissioning.desk import CommissioningDesk
from gateway.config_file import read_config
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import FakeClock
from gateway.settings import Settings, load_settings
from gateway.storage.commissioning import CommissioningLog
from gateway.web.keys import CLOCK, COMMISSIONING, SETTINGS, SettingsInForce
from gateway.web.routes.commissioning import FORMS, add_commissioning_routes
from probes.reading import ProbeStatus, Reading
from tests.access_support import as_roles, roles_from_header
from tests.commissioning.support import write_clinic

pytestmark = pytest.mark.asyncio


class Applied:
    """Applies a form's settings to the settings the handlers read, as a reload in place."""

    def __init__(self, in_force: SettingsInForce) -> None:
        self.in_force = in_force

    async def __call__(self, settings: Settings) -> str:
        self.settings = settings
        await self.in_force.reconfigure(settings)
        return "applied in place (test)"


@pytest_asyncio.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    config = write_clinic(tmp_path)
    clock = FakeClock()
    running = SettingsInForce(load_settings(config))
    with CommissioningLog(tmp_path / "audit.sqlite3") as audit:
        desk = CommissioningDesk(
            config,
            audit,
            clock,
            latest=lambda: {"208601": Reading("208601", clock.now(), ProbeStatus.OK, 4.2)},
            apply=Applied(running),
        )
        app = web.Application(middlewares=[roles_from_header])
        app[SETTINGS] = running
        app[CLOCK] = clock
        app[COMMISSIONING] = desk
        add_commissioning_routes(app)
        async with TestClient(TestServer(app)) as test_client:
            yield test_client


def version(client: TestClient[web.Request, web.Application]) -> str:
    desk = client.app[COMMISSIONING]
    assert desk.config_path is not None
    return read_config(desk.config_path).version


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("role", [role for role in Role if role is not Role.TECHNICIAN])
async def test_only_a_technician_may_hand_in_a_form(
    client: TestClient[web.Request, web.Application], form: str, role: Role
) -> None:
    response = await client.post(f"/api/commissioning/{form}", json={}, headers=as_roles(role))
    assert response.status == 403
    assert "may not probe_bind" in (await response.json())["error"]


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_signed_out_is_401_and_a_technician_gets_through(
    client: TestClient[web.Request, web.Application], form: str
) -> None:
    assert (await client.post(f"/api/commissioning/{form}", json={})).status == 401
    response = await client.post(
        f"/api/commissioning/{form}", json={}, headers=as_roles(Role.TECHNICIAN)
    )
    assert response.status == 400
    assert "expected_version: Field required" in (await response.json())["error"]


async def test_a_vaccinator_cannot_discover_either(
    client: TestClient[web.Request, web.Application],
) -> None:
    for path in ("", "/discover/serial", "/identify", "/forms.html"):
        response = await client.get(f"/api/commissioning{path}", headers=as_roles(Role.VACCINATOR))
        assert response.status == 403, path


async def test_the_forms_print_with_the_seed_headings_and_escape_text(
    client: TestClient[web.Request, web.Application],
) -> None:
    technician = as_roles(Role.TECHNICIAN, name="张工")
    moved = await client.post(
        "/api/commissioning/move",
        json={
            "expected_version": version(client),
            "code": "208601",
            "compartment": "F2/冷藏",
            "note": "<script>alert(1)</script>",
        },
        headers=technician,
    )
    assert moved.status == 200, await moved.text()
    gone = await client.post(
        "/api/commissioning/decommission",
        json={"expected_version": version(client), "code": "208610"},
        headers=technician,
    )
    assert gone.status == 200, await gone.text()

    page = await (await client.get("/api/commissioning/forms.html", headers=technician)).text()
    for heading in (
        "冷链设备参数变更申请单",
        "冷链监测设备安装申请单（硬件）",
        "冷链监测设备停用申请单",
    ):
        assert heading in page
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page
    assert "海尔冰箱冷藏" in page
    assert "美菱冰箱冷藏" in page
    assert "208601冷藏" in page

    response = await client.get("/api/commissioning/forms.csv?table=1", headers=technician)
    text = (await response.read()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:6] == [
        "单位名称及单位编码（十位数）",
        "变更前的冰箱名称",
        "现使用的冰箱名称",
        "更改前使用探头编码",
        "现使用的探头编码",
        "备注",
    ]
    assert rows[1][:5] == [
        "测试门诊 6101030203",
        "海尔冰箱冷藏",
        "美菱冰箱冷藏",
        "208601冷藏",
        "208601冷藏",
    ]
    assert rows[1][-1] == "张工"
    local = client.app[CLOCK].now().astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M")
    assert rows[1][-2] == local  # the clinic's time, not UTC
    decommissioned = await client.get("/api/commissioning/forms.csv?table=4", headers=technician)
    rows = list(csv.reader(io.StringIO((await decommissioned.read()).decode("utf-8-sig"))))
    assert rows[1][1:5] == ["海尔冰箱冷冻", "是", "208610冷冻", "是"]  # no probe left in it
    software = await client.get("/api/commissioning/forms.csv?table=3", headers=technician)
    rows = list(csv.reader(io.StringIO((await software.read()).decode("utf-8-sig"))))
    assert [row[1:4] for row in rows[1:]] == [  # every probe configured, bound by hand or not
        ["海尔冰箱冷藏", "10001", "208600冷藏"],
        ["美菱冰箱冷藏", "10001", "208601冷藏"],
        ["海尔冰箱冷藏", "10001", "208602冷藏"],
    ]
    bad = await client.get("/api/commissioning/forms.csv?table=9", headers=technician)
    assert bad.status == 400


async def test_a_form_that_breaks_the_configuration_shows_the_errors(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post(
        "/api/commissioning/move",
        json={"expected_version": version(client), "code": "208601", "compartment": "F1/冷冻"},
        headers=as_roles(Role.TECHNICIAN),
    )
    assert response.status == 422
    body = await response.json()
    assert body["params"]["reasons"][0] == "the configuration would not be valid"
    assert any("expects 1 probe(s)" in reason for reason in body["params"]["reasons"])


async def test_discovery_of_an_unknown_bus_names_the_configured_ones(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get(
        "/api/commissioning/discover/modbus?bus=nope", headers=as_roles(Role.TECHNICIAN)
    )
    assert response.status == 400
    assert "buses: main, spare" in (await response.json())["error"]
