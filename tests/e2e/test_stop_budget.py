"""A stop always completes: a busy gateway process (24 probes polled 5 times a second, an alarm
escalating, an InfluxDB and an MQTT server that are down, now and then a reload under way) gets
SIGTERM at random moments and exits 0 within the 5 s stop budget, every time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from firmware_sim.modbus_devices import ModbusSimulator, channels_for_settings
from firmware_sim.modbus_server import TcpSimServer
from gateway.auth.policy import Role
from gateway.core.clock import SystemClock
from gateway.settings import load_settings
from tests.e2e.support import GatewayProcess, clinic_toml
from tests.web_support import api_token, bearer

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

ROUNDS = 8
STOP_BUDGET_S = 5.0
BUSY = """
[influx]
url = "http://127.0.0.1:{closed}"
bucket = "county"

[mqtt]
url = "mqtt://127.0.0.1:{closed}"

[alerts]
[[alerts.people]]
id = "wang"
name = "王芳"
phone = "+8613800000001"
[alerts.tiers.tier1]
people = ["wang"]
[alerts.tiers.tier2]
people = ["wang"]
[alerts.tiers.tier3]
people = ["wang"]
[alerts.channels]
console_only = true
[alerts.escalation]
tier2_after_s = 0.5
tier3_after_s = 1.0
[alerts.rules.defaults]
too_warm_hold_off_s = 0
too_cold_hold_off_s = 0
[alerts.ack]
secret = "k3J9xQ2mV7pL0zR8tY5wN1bC4fH6dG2sA9eU"
base_url = "http://127.0.0.1:8080"
"""


def closed_port() -> int:
    """A loopback port nothing listens on (a server that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def busy_clinic(data_dir: Path, port: int, closed: int) -> str:
    """The 24-probe clinic; compartment C10's range is below what its logger reads, so its
    too-warm alarm opens and escalates while the gateway runs."""
    text = clinic_toml(data_dir, port, 0.2)
    first = '  name = "C10"\n  kind = "refrigerated"\n'
    assert first in text
    text = text.replace(first, first + "  min_c = -30.0\n  max_c = -20.0\n")
    return text + BUSY.format(closed=closed)


@pytest_asyncio.fixture
async def config(tmp_path: Path) -> AsyncIterator[Path]:
    data_dir = tmp_path / "data"
    path = tmp_path / "clinic.toml"
    closed = closed_port()
    path.write_text(busy_clinic(data_dir, 1, closed), encoding="utf-8")
    simulator = ModbusSimulator(channels_for_settings(load_settings(path)), SystemClock())
    async with TcpSimServer(simulator, "127.0.0.1", 0) as server:
        path.write_text(busy_clinic(data_dir, server.port, closed), encoding="utf-8")
        yield path


async def start_reload(
    gateway: GatewayProcess, session: aiohttp.ClientSession, rng: random.Random
) -> None:
    """Move a probe to another compartment through the commissioning form (a reload in
    place), without waiting for the answer."""
    assert gateway.token is not None
    headers = bearer(gateway.token)
    async with session.get(f"{gateway.base}/api/commissioning", headers=headers) as response:
        overview = await response.json()
    compartments = overview["compartments"]
    probe = rng.choice([probe for c in compartments for probe in c["probes"]])
    form = {
        "expected_version": overview["version"],
        "code": probe["code"] if isinstance(probe, dict) else probe,
        "compartment": rng.choice(compartments)["ref"],
    }
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        async with asyncio.timeout(0.05):
            await session.post(
                f"{gateway.base}/api/commissioning/move",
                data=json.dumps(form),
                headers=headers | {"Content-Type": "application/json"},
            )


async def test_sigterm_at_random_moments_always_exits_zero_within_the_budget(
    config: Path,
) -> None:
    rng = random.Random(20261207)
    data_dir = config.parent / "data"
    token = api_token(data_dir, Role.TECHNICIAN, name="zhang")
    took: list[float] = []
    async with aiohttp.ClientSession() as session:
        for round_ in range(ROUNDS):
            gateway = await GatewayProcess.start(config, token=token)
            try:
                await asyncio.sleep(rng.uniform(0.0, 2.0))
                if rng.random() < 0.4:
                    await start_reload(gateway, session, rng)
                    await asyncio.sleep(rng.uniform(0.0, 0.05))
                asked = asyncio.get_running_loop().time()
                code = await gateway.terminate(within_s=STOP_BUDGET_S)
                took.append(asyncio.get_running_loop().time() - asked)
            finally:
                await gateway.kill()
            logged = gateway.logged(last=20_000)
            assert code == 0, f"round {round_}: exit {code}\n{logged[-3000:]}"
            assert "did not stop" not in logged, f"round {round_}:\n{logged[-3000:]}"
            assert "stopped cleanly" in logged, f"round {round_}:\n{logged[-3000:]}"
    print(f"SIGTERM to exit, s: {', '.join(f'{seconds:.2f}' for seconds in took)}")
