"""The demo's `door-opening` scenario over Modbus TCP on one FakeClock: each opening takes
the refrigerated compartment above 8 °C for a few minutes, and the too-warm hold-off (15 min)
keeps it from paging anyone."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_sim.modbus_devices import ModbusSimulator, channels_for_settings
from firmware_sim.modbus_server import TcpSimServer
from firmware_sim.wechat_api import FakeWecom
from gateway.core.clock import FakeClock
from probes.modbus import ModbusBusDriver, devices_on_bus
from probes.settings import ModbusProbe
from tests.alarms.conftest import PROBE, Harness, alerts_section, clinic, wait_until

pytestmark = pytest.mark.asyncio


async def test_a_door_opening_crosses_8_degrees_and_pages_no_one(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with FakeWecom("ww", "secret", "robot-key", users=set()) as wecom:
        robot = {"wecom_robot": {"key": "robot-key", "base_url": wecom.base_url}}
        settings = clinic(tmp_path / "data", alerts_section(robot))
        simulator = ModbusSimulator(
            channels_for_settings(settings, {"F1/冷藏": "door-opening"}), clock
        )
        async with TcpSimServer(simulator) as server:
            bus = settings.buses[0].model_copy(update={"port": server.port})
            harness = Harness(settings, clock, real_channels=True)
            driver = ModbusBusDriver(
                bus,
                devices_on_bus(settings.probes_of(ModbusProbe), settings.all_profiles(), "sim"),
                harness.recorder.put,
                clock,
            )
            harness.drivers.append(driver)
            await harness.start()
            task = harness.start_task(driver.run(), "bus:sim")
            try:
                expected = 1

                def emitted() -> int:
                    stats = harness.recorder.stats()
                    return stats.written + stats.queue_depth

                # The first opening starts 30 to 40 min in and is over 15 min later.
                for _ in range(2 * 60):
                    await wait_until(
                        lambda n=expected: emitted() >= n,  # type: ignore[misc]
                        f"reading {expected}",
                    )
                    expected += 1
                    await clock.advance(30)
                await clock.advance(2)  # past the store's flush interval
                await wait_until(lambda: harness.recorder.stats().queue_depth == 0, "flushed")
                warm = [
                    item.reading.temperature
                    for item in harness.readings.readings_after(0, limit=10_000)
                    if item.reading.probe == PROBE
                    and item.reading.temperature is not None
                    and item.reading.temperature > 8.0
                ]
                alarms = dict(harness.alarms.core.escalation.alarms)
            finally:
                await harness.stop_task(task)
                await harness.stop()
    assert 1 <= len(warm) <= 5, "above 8 °C for a few minutes (one reading a minute)"
    assert max(warm) < 10.0
    assert alarms == {}
    assert wecom.robot_messages == []
