"""A real gateway process forwarding to real VictoriaMetrics and mosquitto, with alarms: every
ok reading reaches the server once, /metrics shows the forwarders, and the county side can ack
an alarm and reload the configuration over MQTT."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from firmware_sim.modbus_devices import ModbusSimulator, channels_for_settings
from firmware_sim.modbus_server import TcpSimServer
from gateway.auth.policy import Role
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import SystemClock
from gateway.settings import load_settings
from gateway.storage.readings import ReadingStore
from gateway.storage.registry import READINGS
from probes.reading import ProbeStatus, Reading
from tests.e2e.support import CLINIC_HEADER, GatewayProcess
from tests.servers import Mosquitto, Subscriber, VictoriaMetrics
from tests.web_support import add_account, api_token, open_accounts

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

BASE = "coldchain/6101030203/10001"

CLINIC = (
    CLINIC_HEADER
    + """
[[buses]]
name = "sim"
transport = "tcp"
host = "127.0.0.1"
port = {modbus_port}
timeout_s = 0.3

[[fridges]]
code = "F1"
name = "1号冰箱"
kind = "refrigerator"
  [[fridges.compartments]]
  name = "冷藏"
  kind = "refrigerated"
  [[fridges.compartments]]
  name = "冷冻"
  kind = "frozen"

[[probes]]
code = "P0"
bus = "sim"
device_id = 1
channel = 0
profile = "logger-8ch"
compartment = "F1/冷藏"
poll_interval_s = {poll}

[influx]
url = "{vm_url}"
bucket = "county"

[mqtt]
url = "{mqtt_url}"
command_account = "county-ops"

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
console = true
console_only = true
[alerts.ack]
secret = "test-only-ack-link-secret-0123456789"
base_url = "http://127.0.0.1"
"""
)

# Channel 1 of the logger has nothing plugged in: the probe bound to it reads disconnected.
FAULTY_PROBE = """
[[probes]]
code = "P1"
bus = "sim"
device_id = 1
channel = 1
profile = "logger-8ch"
compartment = "F1/冷冻"
poll_interval_s = {poll}
"""


#: A day already in the store when the gateway starts: one reading every 10 minutes of the local
#: day before yesterday, whose daily figures go to the county as soon as it runs.
DAY_BEFORE = datetime.now(CLINIC_TZ).date() - timedelta(days=2)
DAY_START = datetime.combine(DAY_BEFORE, datetime.min.time(), tzinfo=CLINIC_TZ)
RECORDED_DAY = [
    Reading("P0", DAY_START + timedelta(minutes=10 * i), ProbeStatus.OK, 5.0) for i in range(144)
]


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 20.0) -> None:
    """Poll `check`; a refused connection (the gateway restarting on reload) counts as not yet."""
    async with asyncio.timeout(within_s):
        while True:
            with contextlib.suppress(ConnectionRefusedError):
                if await check():
                    return
            await asyncio.sleep(0.1)


def probe_times(vm: VictoriaMetrics, metric: str, expected: int) -> list[tuple[str, int]]:
    """(probe, timestamp ms) of the stored samples, once `expected` of them are searchable."""
    return [(labels["probe"], ts) for labels, ts, _ in vm.samples(metric, at_least=expected)]


async def test_forwarding_alarms_and_county_commands(
    tmp_path: Path, vm: VictoriaMetrics, mosquitto: Mosquitto
) -> None:
    config = tmp_path / "clinic.toml"
    fields = {"data_dir": tmp_path / "data", "vm_url": vm.url, "mqtt_url": mosquitto.url}

    def write(poll: float, modbus_port: int) -> None:
        text = CLINIC + FAULTY_PROBE
        config.write_text(
            text.format(poll=poll, modbus_port=modbus_port, **fields), encoding="utf-8"
        )

    config.write_text(CLINIC.format(poll=0.2, modbus_port=1, **fields), encoding="utf-8")
    simulator = ModbusSimulator(channels_for_settings(load_settings(config)), SystemClock())
    async with TcpSimServer(simulator) as sim, Subscriber(mosquitto, f"{BASE}/#") as county:
        write(0.2, sim.port)
        token = api_token(tmp_path / "data", Role.COUNTY)
        with open_accounts(tmp_path / "data") as accounts:  # the county's commands act for it
            add_account(accounts, "county-ops", Role.MANAGER, Role.TECHNICIAN, person="wang")
        with ReadingStore(tmp_path / "data" / READINGS.file) as store:
            store.write_batch(RECORDED_DAY)  # the day before yesterday, already recorded
        gateway = await GatewayProcess.start(config, token=token)
        try:

            async def alarm_open() -> bool:
                alarms = await gateway.get_json("/api/alarms")
                assert isinstance(alarms, dict)
                return alarms["open"] >= 1

            await eventually(alarm_open)
            async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
                ack = {"id": "a1", "alarm": 1, "person": "wang"}
                await client.publish(f"{BASE}/cmd/ack", json.dumps(ack), qos=1)

                async def acked() -> bool:
                    return bool(county.payloads("/reply/ack"))

                await eventually(acked)
                assert county.payloads("/reply/ack")[0]["ok"] is True, county.payloads("/reply/ack")
                alarms = await gateway.get_json("/api/alarms")
                assert isinstance(alarms, dict)
                fault = alarms["alarms"][0]
                assert (fault["kind"], fault["probe"]) == ("probe_fault", "P1")
                assert [ack["person"] for ack in fault["acks"]] == ["wang"]

                async def ack_reached_the_county() -> bool:
                    events = [(e["probe"], e["event"]) for e in county.payloads("/alarms")]
                    return ("P1", "acknowledged") in events

                await eventually(ack_reached_the_county)
                events = [(e["event"], e["tier"]) for e in county.payloads("/alarms")]
                assert events[:2] == [("opened", None), ("tier_notified", 1)]

                before = await gateway.get_json("/api/health")
                assert isinstance(before, dict)
                write(0.4, sim.port)
                await client.publish(f"{BASE}/cmd/reload", json.dumps({"id": "r1"}), qos=1)

                async def reloaded() -> bool:
                    return bool(county.payloads("/reply/reload"))

                await eventually(reloaded)
                reply = county.payloads("/reply/reload")[0]
                assert reply["ok"] is True, reply
                assert "applied in place" in reply["detail"], reply

            sent_before = before["forwarders"]["influx"]["points_sent"]

            async def forwarding_again() -> bool:
                health = await gateway.get_json("/api/health")
                assert isinstance(health, dict)
                influx = health["forwarders"]["influx"]
                in_place = health["started_at"] == before["started_at"]
                return in_place and influx["points_sent"] > sent_before and influx["backlog"] == 0

            await eventually(forwarding_again)
            metrics = await gateway.get_text("/metrics")
            assert 'coldchain_forward_backlog_readings{forwarder="influx"}' in metrics
            assert 'coldchain_forward_points_sent_total{forwarder="mqtt"}' in metrics
        finally:
            running = gateway.process.returncode is None
            code = await gateway.terminate(within_s=5.0) if running else gateway.process.returncode
            assert code == 0, gateway.logged()

    with ReadingStore(tmp_path / "data" / READINGS.file) as store:
        stored = store.readings_after(0, limit=1_000_000)
    on_server = probe_times(vm, "coldchain_status", len(stored))
    assert len(on_server) == len(set(on_server)), "nothing twice"
    by_key = {(r.reading.probe, int(r.reading.taken_at.timestamp() * 1000)): r for r in stored}
    assert set(on_server) <= set(by_key), "nothing on the server that the gateway did not store"
    assert set(on_server) == set(by_key), "a clean stop drains the forwarder: all on the server"
    ok = {key for key in on_server if by_key[key].reading.status is ProbeStatus.OK}
    temperatures = set(probe_times(vm, "coldchain_temperature", len(ok)))
    assert temperatures == ok, "a temperature exactly for the ok readings"
    published = {r["seq"] for batch in county.payloads("/readings") for r in batch["readings"]}
    assert published == {r.seq for r in stored}
    alarm_points = [
        (labels["probe"], labels["event"], int(value))
        for labels, _, value in vm.samples("coldchain_alarm_seq", at_least=3)
    ]
    assert len(alarm_points) == len(set(alarm_points)), "each transition once"
    day_ms = int(DAY_START.timestamp() * 1000)
    daily = [
        (labels["probe"], ts, value)
        for labels, ts, value in vm.samples("coldchain_daily_ok", at_least=1)
    ]
    assert daily == [("P0", day_ms, 144.0)], "the recorded day's figures, once"
    days = [(d.get("probe"), d["day"], d["ok"]) for d in county.payloads("/daily")]
    assert days == [("P0", DAY_BEFORE.isoformat(), 144)]
    assert {(probe, event) for probe, event, _ in alarm_points} >= {
        ("P1", "opened"),
        ("P1", "tier_notified"),
        ("P1", "acknowledged"),
    }
