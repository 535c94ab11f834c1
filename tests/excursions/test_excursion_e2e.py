"""End to end over real transports on one FakeClock: two batches received into fridge F1's
refrigerated compartment; the firmware_sim `compressor-failure` scenario over Modbus TCP on
loopback -> driver -> recorder -> readings store -> alarm service (whose tier-1 message names
the doses at risk) -> repair -> the alarm clears -> the excursion service measures the
excursion on the stored readings and quarantines exactly those batches and packages; a dose
from one is refused until a disposition releases the batch."""

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
from gateway.storage.ledger.stock import StockLedger
from ledger.stability import load_stability
from ledger.stock_errors import StockError
from probes.modbus import ModbusBusDriver, devices_on_bus
from probes.settings import ModbusProbe
from tests.alarms.conftest import T0, Harness, clinic, wait_until
from tests.excursions.conftest import STABILITY_FILE, covid, hepb
from tests.ledger.conftest import COVID, COVID_BATCH, HEPB, HEPB_BATCH, SHIPMENT

pytestmark = pytest.mark.asyncio


async def test_compressor_failure_quarantines_what_was_in_the_fridge(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    settings = clinic(tmp_path / "data")
    with LedgerDB.in_folder(tmp_path / "ledger") as db:
        catalogue = Catalogue(db)
        catalogue.import_json(json.dumps(SHIPMENT))
        stock = StockLedger(db, catalogue, clock)
        simulator = ModbusSimulator(
            channels_for_settings(settings, {"F1/冷藏": "compressor-failure"}), clock
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
                stability=load_stability(STABILITY_FILE), alarms=harness.alarms.store, poll_s=60,
            )  # fmt: skip
            harness.alarms.count_doses_with(service.doses_at_risk)
            for item in [hepb(1), hepb(2), covid(1), covid(2)]:
                service.locations.receive_into(item, "F1/冷藏", event_id=f"in-{item}", actor="王芳")
            service.locations.receive_into(hepb(3), "F1/冷冻", event_id="in-3", actor="王芳")
            tasks = [
                harness.start_task(driver.run(), "bus:sim"),
                harness.start_task(service.run(), "excursions"),
            ]
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

                await minutes(70)
                await wait_until(lambda: bool(harness.robot.sent), "the tier-1 message")
                first = harness.robot.sent[0][1].message.text
                assert "温度过高" in first
                assert "在库疫苗 6 剂受影响" in first

                device = simulator.devices[1]
                device.channels[0] = replace(
                    device.channels[0], scenario=build_scenario("steady", seed=1)
                )
                await minutes(10)
                await wait_until(lambda: service.recorded == 1, "the excursion to be recorded")
                (excursion_id,) = service.quarantine.excursion_ids()
                excursion = service.quarantine.excursion(excursion_id)
                assert excursion is not None
                assert {k: [u.code for u in v] for k, v in excursion.batches.items()} == {
                    (HEPB, HEPB_BATCH): [hepb(1), hepb(2)],
                    (COVID, COVID_BATCH): [covid(1), covid(2)],
                }
                assert excursion.compartment == "F1/冷藏"
                start_min = (excursion.start - T0).total_seconds() / 60
                assert 49 <= start_min <= 52  # the scenario crosses 8 °C about 50 min in
                assert excursion.exposure.peak_c is not None
                assert excursion.exposure.peak_c > 8
                assert excursion.exposure.minutes_above > 15
                assert excursion.exposure.degree_minutes_above > 0
                mkt = excursion.exposure.mkt_c
                assert mkt is not None
                assert excursion.exposure.trough_c is not None
                assert excursion.exposure.trough_c <= mkt <= excursion.exposure.peak_c

                with pytest.raises(StockError, match="quarantined: it was in F1/冷藏"):
                    stock.administer(hepb(1), event_id="dose-1", actor="李医生")
                stock.administer(hepb(3), event_id="dose-3", actor="李医生")  # the freezer's
                assert service.quarantine.proposal(HEPB, HEPB_BATCH).decision == "usable"
                service.quarantine.dispose(
                    HEPB, HEPB_BATCH, decision="usable", vvm_stage=1, decided_by="王芳",
                    recorded_by="wang",
                )  # fmt: skip
                stock.administer(hepb(1), event_id="dose-1", actor="李医生")
                with pytest.raises(StockError, match="quarantined"):
                    stock.administer(covid(1), event_id="dose-2", actor="李医生")

                harness.alarms.close_alarm("1", "wang", "压缩机故障", "已维修")
                await minutes(2)
                assert service.recorded == 1  # the close adds no second excursion
                assert service.last_error is None
                assert service.follow() == []  # the cursor moved past every transition
                restarted = ExcursionService(
                    settings, clock, db, stock, readings=harness.readings,
                    stability=load_stability(STABILITY_FILE), alarms=harness.alarms.store,
                )  # fmt: skip
                assert restarted.follow() == []
                assert restarted.quarantine.excursion_ids() == [excursion_id]
            finally:
                for task in tasks:
                    await harness.stop_task(task)
                await harness.stop()
