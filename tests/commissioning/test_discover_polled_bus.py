"""Discovery on a serial bus the running gateway polls: the bus is paused for the scan (one
program per port) and polled again after it; the scan sees the devices on the pty."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from firmware_sim.modbus_devices import ModbusSimulator
from firmware_sim.modbus_server import RtuSimServer
from firmware_sim.pty_pair import pty_pair
from gateway.auth.policy import Role
from gateway.core.clock import SystemClock
from gateway.core.compartments import CompartmentKind
from gateway.runtime import Gateway
from gateway.settings import load_settings
from tests.commissioning.support import channel
from tests.e2e.support import CLINIC_HEADER
from tests.web_support import api_token, bearer

pytestmark = pytest.mark.asyncio

CONFIG = (
    CLINIC_HEADER
    + """
[[buses]]
name = "rs485"
transport = "rtu"
device = "{device}"
timeout_s = 0.3

[[fridges]]
code = "F1"
name = "海尔冰箱"
kind = "refrigerator"
  [[fridges.compartments]]
  name = "冷藏"
  kind = "refrigerated"

[[probes]]
code = "208601"
bus = "rs485"
device_id = 1
profile = "logger-8ch"
compartment = "F1/冷藏"
poll_interval_s = 0.5
"""
)


async def get(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> dict:
    async with session.get(url, headers=headers) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def polls(session: aiohttp.ClientSession, url: str) -> int:
    health = await get(session, url + "api/health", {})
    return sum(device["polls"] for bus in health["buses"] for device in bus["devices"])


async def polled(session: aiohttp.ClientSession, url: str, at_least: int) -> int:
    """Wait (at most 30 s) until the bus's driver has made `at_least` polls; how many."""
    async with asyncio.timeout(30):
        while (count := await polls(session, url)) < at_least:
            await asyncio.sleep(0.1)
    return count


async def test_a_scan_pauses_the_polled_serial_bus_and_polling_resumes(tmp_path: Path) -> None:
    clock = SystemClock()
    simulator = ModbusSimulator([channel(1, 0, "logger-8ch", CompartmentKind.REFRIGERATED)], clock)
    async with pty_pair(tmp_path) as pair, RtuSimServer(simulator, str(pair.a)):
        config = tmp_path / "gateway.toml"
        config.write_text(CONFIG.format(data_dir=tmp_path / "data", device=pair.b), "utf-8")
        technician = bearer(api_token(tmp_path / "data", Role.TECHNICIAN))
        gateway = Gateway(load_settings(config), clock, config)
        stop = asyncio.Event()
        task = asyncio.create_task(gateway.run(stop))
        await asyncio.wait([task, gateway.listening], timeout=20, return_when="FIRST_COMPLETED")
        url = gateway.listening.result().url
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
                before_scan = await polled(session, url, at_least=5)
                found = await get(
                    session,
                    url + "api/commissioning/discover/modbus?bus=rs485&addresses=1,2",
                    technician,
                )
                [device] = found["devices"]
                assert (device["device_id"], device["profile"]) == (1, "logger-8ch")
                assert device["channels"][0]["bound_to"] == "208601"
                after_scan = await polls(session, url)
                assert after_scan < before_scan  # a new driver for the bus, counting from 0
                await polled(session, url, at_least=after_scan + 2)
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
