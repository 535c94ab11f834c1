"""A real gateway polling simulated loggers over Modbus TCP: a probe is discovered, bound and
decommissioned through the API while the other probes keep their rhythm, without a gap.

Simulated time waits for each due poll (`PolledTime`), so every reading carries the time its
poll was due and the gaps between readings are the schedule's alone, on a loaded machine too."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from firmware_sim.modbus_devices import ModbusSimulator, SimulatedChannel
from firmware_sim.modbus_server import TcpSimServer
from firmware_sim.scenarios import build_scenario
from gateway.auth.policy import Role
from gateway.core.clock import FakeClock
from gateway.core.compartments import CompartmentKind
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.storage.readings import ReadingStore
from gateway.storage.registry import READINGS
from probes.profiles import builtin_profiles
from tests.commissioning.support import PolledTime, clinic_text
from tests.web_support import api_token, bearer

pytestmark = pytest.mark.asyncio

INTERVAL_S = 1.0  # simulated seconds between polls of every probe
OTHERS = ["208600", "208601", "208602", "208610"]
ALERTS = """
[alerts]
people = [{ id = "wang", name = "王芳", phone = "+8613800000001" }]
  [alerts.tiers.tier1]
  people = ["wang"]
  [alerts.tiers.tier2]
  people = ["wang"]
  [alerts.tiers.tier3]
  people = ["wang"]
  [alerts.channels]
  console_only = true
  [alerts.ack]
  secret = "ssssssssssssssssssssssssssssssssssssssss"
  base_url = "http://127.0.0.1:8080"
"""
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
    url: str
    data_dir: Path
    config: Path
    time: PolledTime
    technician: dict[str, str]
    vaccinator: dict[str, str]


def channels() -> list[SimulatedChannel]:
    logger = builtin_profiles()["logger-8ch"]
    steady = build_scenario("steady")
    return [
        SimulatedChannel(1, index, logger, CompartmentKind.REFRIGERATED, steady)
        for index in range(3)
    ] + [
        SimulatedChannel(2, 0, logger, CompartmentKind.FROZEN, build_scenario("steady", seed=2)),
        SimulatedChannel(3, 0, logger, CompartmentKind.REFRIGERATED, steady),
    ]


@pytest_asyncio.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Running]:
    clock = FakeClock(datetime.now(UTC))  # the API tokens are made in real time
    data_dir = tmp_path / "data"
    config = tmp_path / "gateway.toml"
    async with TcpSimServer(ModbusSimulator(channels(), clock), "127.0.0.1", 0) as sim:
        # Replies on loopback take real time: room for a loaded machine, no dead address.
        text = clinic_text(data_dir, sim.port, INTERVAL_S).replace(
            "timeout_s = 0.3", "timeout_s = 5"
        )
        config.write_text(text + ALERTS, encoding="utf-8")
        technician = bearer(api_token(data_dir, Role.TECHNICIAN, name="zhang"))
        vaccinator = bearer(api_token(data_dir, Role.VACCINATOR, name="liu"))
        running = Gateway(load_settings(config), clock, config)
        stop = asyncio.Event()
        async with PolledTime(clock) as time:
            task = asyncio.create_task(running.run(stop), name="gateway-under-test")
            await asyncio.wait([task, running.listening], timeout=20, return_when="FIRST_COMPLETED")
            if task.done():
                task.result()  # the gateway could not start: its error
            listening = running.listening.result()
            try:
                yield Running(listening.url, data_dir, config, time, technician, vaccinator)
            finally:
                stop.set()
                await asyncio.wait_for(task, 20)


async def call(
    running: Running,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            running.url + path.lstrip("/"),
            data=None if body is None else json.dumps(body),
            headers={"Content-Type": "application/json", **(headers or running.technician)},
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


async def main_bus_polls(running: Running) -> int:
    """Polls made by bus main's driver since it started (a restarted driver counts from 0)."""
    _, health = await call(running, "GET", "/api/health")
    [main] = [bus for bus in health["buses"] if bus["name"] == "main"]
    return sum(device["polls"] for device in main["devices"])


async def simulated(running: Running, seconds: float) -> None:
    await running.time.sleep(seconds)


def gaps(data_dir: Path, codes: list[str]) -> dict[str, set[float]]:
    """The distinct gaps between the readings of each probe, in simulated seconds (to 1 ms)."""
    with ReadingStore(data_dir / READINGS.file) as store:
        found = {}
        for code in codes:
            times = [row.reading.taken_at for row in store.readings(code, limit=10_000)]
            assert len(times) > 20, f"{code}: only {len(times)} readings"
            found[code] = {round((b - a).total_seconds(), 3) for a, b in itertools.pairwise(times)}
        return found


async def test_bind_and_decommission_under_load_leave_no_gap(gateway: Running) -> None:
    await simulated(gateway, 8 * INTERVAL_S)
    status, overview = await call(gateway, "GET", "/api/commissioning")
    assert status == 200, overview
    assert [c["probes"] for c in overview["compartments"] if c["ref"] == "F2/冷藏"] == [[]]

    status, found = await call(
        gateway, "GET", "/api/commissioning/discover/modbus?bus=spare&addresses=3,4&timeout_s=1"
    )
    assert status == 200, found
    [device] = found["devices"]
    assert device["device_id"] == 3
    assert device["profile"] == "logger-8ch"
    assert device["channels"][0]["bound_to"] is None
    assert device["channels"][0]["key"] == "modbus:spare:3:0"

    form = {"expected_version": overview["version"], "probe": NEW_PROBE, "unit": "6101030203"}
    status, forbidden = await call(
        gateway, "POST", "/api/commissioning/bind", form, gateway.vaccinator
    )
    assert status == 403, forbidden
    polls_before = await main_bus_polls(gateway)
    status, bound = await call(gateway, "POST", "/api/commissioning/bind", form)
    assert status == 200, bound
    assert await main_bus_polls(gateway) >= polls_before  # the same driver: counts go on
    assert "started: bus:spare" in bound["applied"]
    assert "4 other driver(s)" not in bound["applied"]
    assert bound["change"]["new_probe"] == "300001冷藏"

    status, stale = await call(gateway, "POST", "/api/commissioning/bind", form)
    assert status == 409, stale
    assert stale["params"]["version"] == bound["version"]
    again = form | {"expected_version": bound["version"]}
    status, refused = await call(gateway, "POST", "/api/commissioning/bind", again)
    assert status == 422, refused
    assert "already bound" in refused["error"]
    status, refused = await call(
        gateway,
        "POST",
        "/api/commissioning/bind",
        again | {"unit": "6101030299", "probe": NEW_PROBE | {"code": "300002", "channel": 1}},
    )
    assert status == 422, refused
    assert "belongs to unit 6101030299" in refused["error"]

    _, health = await call(gateway, "GET", "/api/health")
    evaluated = health["alarms"]["evaluated_seq"]
    await simulated(gateway, 8 * INTERVAL_S)
    _, health = await call(gateway, "GET", "/api/health")
    assert health["alarms"]["running"] is True
    assert health["alarms"]["last_error"] is None
    assert health["alarms"]["evaluated_seq"] > evaluated  # the new rules evaluate readings
    assert "300001" in [probe["code"] for probe in health["probes"]]
    status, readings = await call(
        gateway, "GET", "/api/readings?probe=300001", headers=gateway.technician
    )
    assert status == 200, readings
    assert len(readings["readings"]) >= 4

    status, ranking = await call(gateway, "GET", "/api/commissioning/identify?window_s=30")
    assert status == 200
    assert {item["key"] for item in ranking["ranking"]} >= {*OTHERS, "300001"}

    status, gone = await call(
        gateway,
        "POST",
        "/api/commissioning/decommission",
        {"expected_version": bound["version"], "code": "300001"},
    )
    assert status == 200, gone
    assert gone["applied"].startswith("applied in place (stopped: bus:spare")
    await simulated(gateway, 8 * INTERVAL_S)

    status, page = await call(gateway, "GET", "/api/commissioning/changes")
    assert [change["form"] for change in page["changes"]] == ["install", "decommission"]
    # Every poll of the other probes on its schedule, none lost, none moved by the reloads.
    assert gaps(gateway.data_dir, OTHERS) == {code: {INTERVAL_S} for code in OTHERS}
    with ReadingStore(gateway.data_dir / READINGS.file) as store:
        last = store.readings("300001", limit=10_000)[-1].reading.taken_at
        latest_other = store.readings("208600", limit=10_000)[-1].reading.taken_at
    assert (latest_other - last).total_seconds() > 4 * INTERVAL_S
