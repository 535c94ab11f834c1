"""A probe bound, moved, replaced and decommissioned in a running gateway is known at once
everywhere that uses probes: calibration, the alarm rules, the forwarders' tags, the disk
budget's ranges, the daily digest, the forms; a fridge renamed shows on the manual sheet. No
restart in between."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from firmware_sim.modbus_devices import ModbusSimulator
from firmware_sim.modbus_server import TcpSimServer
from gateway.auth.policy import Role
from gateway.core.clock import ScaledClock
from gateway.forward.tags import ProbeTags
from gateway.runtime import Gateway
from gateway.runtime.forwarders import Forwarding
from gateway.settings import load_settings
from tests.commissioning.support import clinic_text
from tests.commissioning.test_hot_reload import ALERTS, INTERVAL_S, channels
from tests.web_support import api_token, bearer

pytestmark = pytest.mark.asyncio

SPEED = 4.0  # simulated seconds per real second

NEW_PROBE = {
    "code": "300001",
    "bus": "spare",
    "device_id": 3,
    "channel": 0,
    "profile": "logger-8ch",
    "compartment": "F2/冷藏",
    "poll_interval_s": INTERVAL_S,
}


@dataclass
class Running:
    gateway: Gateway
    url: str
    technician: dict[str, str]
    manager: dict[str, str]

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method,
                self.url + path.lstrip("/"),
                data=None if body is None else json.dumps(body),
                headers={"Content-Type": "application/json", **(headers or self.technician)},
            ) as response,
        ):
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def form(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Fill form `name` against the current version; its outcome."""
        _, overview = await self.call("GET", "/api/commissioning")
        status, outcome = await self.call(
            "POST",
            f"/api/commissioning/{name}",
            {"expected_version": overview["version"], **body},
        )
        assert status == 200, (name, outcome.get("params"))
        assert outcome["applied"].startswith("applied in place"), outcome
        return dict(outcome)

    async def calibrate(self, probe: str) -> tuple[int, Any]:
        """A calibration check of `probe`, once it has readings to be judged by."""
        for _ in range(100):
            status, body = await self.call(
                "POST", "/api/calibrations", {"probe": probe, "reference_c": 5.0}
            )
            if status != 422 or "has no reading" not in body["error"]:
                return status, body
            await asyncio.sleep(0.1)  # the probe has not reported yet
        return status, body


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest_asyncio.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    clock = ScaledClock(SPEED)
    data_dir = tmp_path / "data"
    config = tmp_path / "gateway.toml"
    extra = f'\n[mqtt]\nurl = "mqtt://127.0.0.1:{closed_port()}"\n' + ALERTS
    async with TcpSimServer(ModbusSimulator(channels(), clock), "127.0.0.1", 0) as sim:
        text = clinic_text(data_dir, sim.port, INTERVAL_S).replace(
            "flush_interval_s = 0.05\n",
            "flush_interval_s = 0.05\n\n[store.disk_budget]\nmax_bytes = 100000000\n",
        )
        config.write_text(text + extra, encoding="utf-8")
        technician = bearer(api_token(data_dir, Role.TECHNICIAN, name="zhang"))
        manager = bearer(api_token(data_dir, Role.MANAGER, name="wang"))
        gateway = Gateway(load_settings(config), clock, config)
        stop = asyncio.Event()
        task = asyncio.create_task(gateway.run(stop), name="gateway-under-test")
        await asyncio.wait([task, gateway.listening], timeout=20, return_when="FIRST_COMPLETED")
        if task.done():
            task.result()
        try:
            yield Running(gateway, gateway.listening.result().url, technician, manager)
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)


def placement(running: Running, code: str) -> dict[str, Any]:
    """Where each consumer of the settings places probe `code` now."""
    built = running.gateway.built
    assert built is not None
    alarms, budget = built.alarms, built.disk_budget
    assert alarms is not None
    assert budget is not None
    [identity] = [service.identity for service in built.services if isinstance(service, Forwarding)]
    [daily] = built.forwarders.daily_judgements
    limits = daily.limits_of(code)
    return {
        "daily figures": (limits.min_c, limits.max_c),
        "alarm rules": alarms.core.probe_ref.get(code),
        "digest": [p.compartment for p in alarms.digest.settings.probes if p.code == code],
        "tags": identity.of(code),
        "disk budget": budget.ranges.get(code),
    }


async def test_bound_moved_replaced_decommissioned_probe_is_known_everywhere_at_once(
    running: Running,
) -> None:
    status, refused = await running.call(
        "POST", "/api/calibrations", {"probe": "300001", "reference_c": 5.0}
    )
    assert status == 422, refused
    assert "is not configured" in refused["error"]

    status, found = await running.call(
        "GET", "/api/commissioning/discover/modbus?bus=spare&addresses=3&timeout_s=0.2"
    )
    assert status == 200, found
    await running.form("bind", {"probe": NEW_PROBE, "unit": "6101030203"})
    status, check = await running.calibrate("300001")
    assert status == 201, check
    assert check["compartment"] == "F2/冷藏"
    assert placement(running, "300001") == {
        "alarm rules": "F2/冷藏",
        "digest": ["F2/冷藏"],
        "tags": ProbeTags("F2", "冷藏", "refrigerated"),
        "disk budget": (2.0, 8.0),
        "daily figures": (2.0, 8.0),
    }

    await running.form("decommission", {"code": "208610"})  # F1/冷冻 takes one probe
    await running.form("move", {"code": "300001", "compartment": "F1/冷冻"})
    status, check = await running.calibrate("300001")
    assert status == 201, check
    assert check["compartment"] == "F1/冷冻"
    assert placement(running, "300001") == {
        "alarm rules": "F1/冷冻",
        "digest": ["F1/冷冻"],
        "tags": ProbeTags("F1", "冷冻", "frozen"),
        "disk budget": (None, -15.0),
        "daily figures": (None, -15.0),
    }

    replacement = NEW_PROBE | {"code": "300002", "compartment": "F1/冷冻"}
    await running.form("replace", {"old_code": "300001", "probe": replacement})
    status, check = await running.calibrate("300002")
    assert status == 201, check
    assert check["compartment"] == "F1/冷冻"
    status, refused = await running.call(
        "POST", "/api/calibrations", {"probe": "300001", "reference_c": 5.0}
    )
    assert status == 422, refused
    assert "is not configured" in refused["error"]
    gone = {
        "alarm rules": None,
        "digest": [],
        "tags": ProbeTags(),
        "disk budget": None,
        "daily figures": (2.0, 8.0),  # a probe no longer placed is judged as refrigerated
    }
    assert placement(running, "300001") == gone
    assert placement(running, "300002")["tags"] == ProbeTags("F1", "冷冻", "frozen")

    await running.form("decommission", {"code": "300002"})
    status, refused = await running.call(
        "POST", "/api/calibrations", {"probe": "300002", "reference_c": 5.0}
    )
    assert status == 422, refused
    assert "is not configured" in refused["error"]
    assert placement(running, "300002") == gone

    await running.form("rename", {"fridge": "F2", "name": "新美菱冰箱"})
    status, entry = await running.call(
        "POST",
        "/api/manual-readings",
        {"compartment": "F2/冷藏", "temperature": 4.5},
        running.manager,
    )
    assert status == 201, entry
    month = entry["day"][:7]
    status, sheet = await running.call(
        "GET", f"/api/manual-readings/sheet?month={month}&format=html", headers=running.manager
    )
    assert status == 200, sheet
    assert "新美菱冰箱" in sheet

    status, page = await running.call("GET", "/api/commissioning/changes")
    assert [change["form"] for change in page["changes"]] == [
        "install",
        "decommission",
        "move",
        "replace",
        "decommission",
        "rename",
    ]
    status, forms = await running.call("GET", "/api/commissioning/forms.csv?table=1")
    assert status == 200, forms
    assert "300001" in forms
    assert "300002" in forms
    assert "新美菱冰箱" in forms
