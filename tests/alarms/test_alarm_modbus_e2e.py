"""End to end over real transports on one FakeClock: the firmware_sim `compressor-failure`
scenario served over Modbus TCP on loopback -> ModbusBusDriver -> Recorder -> ReadingStore ->
AlarmService -> the fake WeCom robot over HTTP. Tiers 1, 2, 3 at their simulated times, then
acknowledgement, repair, clear and close."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from firmware_sim.modbus_devices import ModbusSimulator, channels_for_settings
from firmware_sim.modbus_server import TcpSimServer
from firmware_sim.scenarios import build_scenario
from firmware_sim.wechat_api import FakeWecom
from gateway.core.clock import FakeClock
from probes.modbus import ModbusBusDriver, devices_on_bus
from probes.settings import ModbusProbe
from tests.alarms.conftest import T0, Harness, alerts_section, clinic, wait_until

pytestmark = pytest.mark.asyncio


async def test_compressor_failure_walks_the_three_tiers_over_modbus(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with FakeWecom("ww", "secret", "robot-key", users=set()) as wecom:
        robot = {"wecom_robot": {"key": "robot-key", "base_url": wecom.base_url}}
        settings = clinic(tmp_path / "data", alerts_section(robot))
        simulator = ModbusSimulator(
            channels_for_settings(settings, {"F1/冷藏": "compressor-failure"}), clock
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

                async def minute() -> None:
                    # The two devices are polled 30 s apart, once a minute each. Before the
                    # clock moves on, let the poll due now finish (real I/O on loopback), so
                    # each reading carries its exact simulated time.
                    nonlocal expected
                    for _ in range(2):
                        await wait_until(
                            lambda n=expected: emitted() >= n,  # type: ignore[misc]
                            f"reading {expected}",
                        )
                        expected += 1
                        await clock.advance(30)

                sent: dict[str, float] = {}

                def note_tiers() -> None:
                    for message in wecom.robot_messages[len(sent) :]:
                        title = message["text"]["content"].split("\n")[0]
                        sent[f"{len(sent)}:{title}"] = harness.minute()

                for _ in range(130):
                    await minute()
                    note_tiers()
                titles = [key.split(":", 1)[1] for key in sent]
                tiers = [t for t in titles if "提醒" not in t]
                assert tiers == [
                    "【冷链报警】一级（疫苗管理员）",
                    "【冷链报警升级】二级（科室负责人）",
                    "【冷链报警升级】三级（单位负责人）",
                ]
                (alarm,) = harness.alarms.core.escalation.alarms.values()
                # The scenario crosses 8 °C 50 min in; 15 min hold-off; then +30 and +60 min.
                opened = (alarm.opened_at - T0).total_seconds() / 60
                assert 64 <= opened <= 67
                tier_at = {
                    tier: (at - alarm.opened_at).total_seconds() / 60
                    for tier, at in alarm.notified.items()
                }
                assert tier_at[1] == 0
                assert 30 <= tier_at[2] <= 31
                assert 60 <= tier_at[3] <= 61
                await wait_until(lambda: len(wecom.robot_messages) >= 3, "robot messages")

                harness.alarms.acknowledge("1", "wang", "scan")
                # The compressor is repaired: the probe's scenario goes back to the steady cycle.
                device = simulator.devices[1]
                device.channels[0] = replace(
                    device.channels[0], scenario=build_scenario("steady", seed=1)
                )
                for _ in range(10):
                    await minute()
                assert not alarm_active(harness)
                harness.alarms.close_alarm("1", "wang", "压缩机故障", "已维修，疫苗评估后继续使用")
                count = len(wecom.robot_messages)
                for _ in range(20):
                    await minute()
                assert len(wecom.robot_messages) == count
                (closed,) = harness.alarms.view()["alarms"]
                assert closed["status"] == "closed"
                assert closed["acks"][0]["how"] == "scan"
            finally:
                await harness.stop_task(task)
                await harness.stop()


def alarm_active(harness: Harness) -> bool:
    return any(a.active for a in harness.alarms.core.escalation.alarms.values())
