"""Hold at once, end to end on one FakeClock: the firmware_sim `compressor-failure` scenario
over Modbus TCP on loopback -> driver -> recorder -> alarm service. While F1/冷藏's too-warm
alarm is open, receiving into it, moving into it and administering from it are refused with a
reason naming the alarm; the freezer beside it and rescuing stock out of it are not held; a
manager's override lets a dose through, recorded; when the alarm clears, the excursion is
recorded at once and the hold becomes the quarantine, until a disposition releases the batch."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from firmware_sim.modbus_devices import ModbusSimulator, channels_for_settings
from firmware_sim.modbus_server import TcpSimServer
from firmware_sim.scenarios import build_scenario
from gateway.core.clock import FakeClock
from gateway.ledgers.excursion_service import ExcursionService
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.queries import hold_overrides
from gateway.storage.ledger.stock import StockLedger
from ledger.holds import HoldError
from ledger.stability import load_stability
from ledger.stock_errors import StockError
from probes.modbus import ModbusBusDriver, devices_on_bus
from probes.settings import ModbusProbe
from tests.alarms.conftest import T0, Harness, clinic, wait_until
from tests.excursions.conftest import STABILITY_FILE, covid, hepb
from tests.ledger.conftest import HEPB, HEPB_BATCH, SHIPMENT

pytestmark = pytest.mark.asyncio
COLD, FROZEN = "F1/冷藏", "F1/冷冻"


async def test_a_warm_compartment_is_held_at_once_and_its_hold_becomes_the_quarantine(
    tmp_path: Path,
) -> None:
    clock = FakeClock(T0)
    settings = clinic(tmp_path / "data")
    with LedgerDB.in_folder(tmp_path / "ledger") as db:
        catalogue = Catalogue(db)
        catalogue.import_json(json.dumps(SHIPMENT))
        stock = StockLedger(db, catalogue, clock)
        simulator = ModbusSimulator(
            channels_for_settings(settings, {COLD: "compressor-failure"}), clock
        )
        async with TcpSimServer(simulator) as server:
            bus = settings.buses[0].model_copy(update={"port": server.port})
            harness = Harness(settings, clock)
            driver = ModbusBusDriver(
                bus,
                devices_on_bus(settings.probes_of(ModbusProbe), settings.all_profiles(), "sim"),
                harness.recorder.put,
                clock,
            )
            harness.drivers.append(driver)
            await harness.start()
            service = ExcursionService(
                settings, clock, db, stock, readings=harness.readings,
                stability=load_stability(STABILITY_FILE), alarms=harness.alarms.store,
                alarm_state=lambda: harness.alarms.core.escalation, poll_s=3600,
            )  # fmt: skip
            stock.holds = service.hold_on
            locations = service.locations
            for n in (1, 2):
                locations.receive_into(hepb(n), COLD, event_id=f"in-{n}", actor="王芳")
            locations.receive_into(hepb(3), FROZEN, event_id="in-3", actor="王芳")
            task = harness.start_task(driver.run(), "bus:sim")
            try:
                expected = 1

                def emitted() -> int:
                    stats = harness.recorder.stats()
                    return stats.written + stats.queue_depth

                async def minutes(count: int) -> None:
                    nonlocal expected
                    for _ in range(count * 2):  # two devices polled 30 s apart
                        await wait_until(lambda n=expected: emitted() >= n, f"reading {expected}")  # type: ignore[misc]
                        expected += 1
                        await clock.advance(30)

                await minutes(30)
                assert service.holds() == []  # in range: nothing held
                await minutes(40)
                await wait_until(lambda: bool(harness.robot.sent), "the tier-1 message")
                (hold,) = service.holds()
                assert (hold.compartment, hold.alarm_no, hold.kind) == (COLD, 1, "too_warm")

                refusals = [
                    lambda: locations.receive_into(covid(1), COLD, event_id="in-4", actor="王芳"),
                    lambda: stock.administer(hepb(1), event_id="dose-1", actor="李医生"),
                    lambda: locations.move([hepb(3)], COLD, event_id="mv-1", actor="王芳"),
                ]
                for attempt, action in zip(
                    refusals, ("receiving", "administering", "moving"), strict=True
                ):
                    with pytest.raises(HoldError) as refused:
                        attempt()
                    reason = refused.value.reason
                    assert reason.startswith(f"{action}")
                    assert (
                        "F1/冷藏 is on hold while alarm #1 (too warm since 2026-03-02 09:" in reason
                    )
                    assert refused.value.code == "stock_on_hold"
                assert locations.where(hepb(3)) == FROZEN

                stock.administer(hepb(3), event_id="dose-3", actor="李医生")  # the freezer is fine
                locations.move([hepb(1)], FROZEN, event_id="rescue", actor="王芳")  # out: allowed
                with pytest.raises(HoldError, match="F1/冷藏 is on hold"):  # but still held
                    stock.administer(hepb(1), event_id="dose-rescued", actor="李医生")
                with pytest.raises(StockError, match="say why"):
                    service.override_hold(COLD, "wang.fang", " ")
                overridden = service.override_hold(COLD, "wang.fang", "接种门诊仅剩此批，已评估")
                assert overridden.override is not None
                stock.administer(hepb(2), event_id="dose-2", actor="李医生")
                grant, used = hold_overrides(db)[::-1]
                assert (grant.action, grant.who, grant.alarm) == (
                    "override",
                    "wang.fang",
                    hold.alarm_id,
                )
                assert (used.action, used.who, used.codes) == (
                    "administering",
                    "李医生",
                    (hepb(2),),
                )
                assert used.reason == "under the override by wang.fang: 接种门诊仅剩此批，已评估"

                device = simulator.devices[1]
                device.channels[0] = replace(
                    device.channels[0], scenario=build_scenario("steady", seed=1)
                )
                await minutes(10)
                # Cleared: the next dose's hold check records the excursion (the poll is an hour
                # away), and the quarantine refuses it.
                assert service.recorded == 0
                with pytest.raises(StockError, match="quarantined: it was in F1/冷藏"):
                    stock.administer(hepb(1), event_id="dose-4", actor="李医生")
                assert service.recorded == 1
                assert service.holds() == []
                (excursion_id,) = service.quarantine.excursion_ids()
                excursion = service.quarantine.excursion(excursion_id)
                assert excursion is not None
                assert sorted(u.code for u in excursion.units) == [hepb(1), hepb(2)]
                # Not held any more; and the refused receipt had left nothing behind.
                locations.receive_into(covid(1), COLD, event_id="in-5", actor="王芳")
                service.quarantine.dispose(
                    HEPB, HEPB_BATCH, decision="usable", vvm_stage=1, decided_by="王芳",
                    recorded_by="wang",
                )  # fmt: skip
                stock.administer(hepb(1), event_id="dose-5", actor="李医生")
            finally:
                await harness.stop_task(task)
                await harness.stop()
