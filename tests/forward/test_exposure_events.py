"""Exposure events: a recorded excursion reaches real servers once per vaccine, exactly once,
through outages and a restart of the lane (its cursor is kept in the ledger file)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from gateway.core.clock import FakeClock
from gateway.forward.event_lane import EventLane
from gateway.forward.exposure_events import (
    ExposureEvent,
    exposure_event_line,
    exposure_events_of,
    exposure_lane,
)
from gateway.forward.influx import InfluxV1Sink, InfluxV2Sink, make_sink
from gateway.forward.line_protocol import LineEncoder
from gateway.forward.settings import InfluxSettings
from gateway.forward.tags import identity_from_settings
from gateway.ledgers.excursion_service import ExcursionService, ExposureEvents
from gateway.runtime import Gateway
from gateway.settings import HttpSettings
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.readings import ReadingStore, to_millis
from gateway.storage.registry import READINGS
from ledger.settings import LedgerSettings
from ledger.stability import StabilityTable
from probes.reading import ProbeStatus, Reading
from tests.alarms.conftest import PROBE, T0, clinic
from tests.excursions.conftest import covid, hepb
from tests.forward.support import wait_until
from tests.ledger.conftest import COVID, HEPB, SHIPMENT
from tests.servers import Influxd, VictoriaMetrics, free_port

COLD = "F1/冷藏"
WARM = (T0 + timedelta(minutes=60), T0 + timedelta(minutes=100))
Sink = InfluxV1Sink | InfluxV2Sink


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ExcursionService]:
    """A clinic whose cold compartment holds 2 hepatitis B vials (1 dose each) and a COVID vial
    (2 doses), 40 minutes at 11 °C an hour in; an empty frozen compartment."""
    clock = FakeClock(T0)
    settings = clinic(tmp_path / "data")
    with LedgerDB.in_folder(tmp_path) as db, ReadingStore(tmp_path / "r.sqlite3") as readings:
        catalogue = Catalogue(db)
        catalogue.import_json(json.dumps(SHIPMENT))
        stock = StockLedger(db, catalogue, clock)
        readings.write_batch([
            Reading(PROBE, T0 + timedelta(minutes=m), ProbeStatus.OK,
                    11.0 if 60 <= m < 100 else 5.0)
            for m in range(180)
        ])  # fmt: skip
        excursions = ExcursionService(
            settings, clock, db, stock, readings=readings, stability=StabilityTable()
        )
        for item in (hepb(1), hepb(2), covid(1)):
            excursions.locations.receive_into(item, COLD, event_id=f"in-{item}", actor="王芳")
        yield excursions


def test_one_event_per_vaccine_or_one_for_an_empty_compartment(
    service: ExcursionService,
) -> None:
    warm = service.record("x1", COLD, *WARM, source="test")
    events = exposure_events_of(7, warm, {HEPB: "0201", COVID: "5603"}.__getitem__)
    assert [(e.vaccine, e.doses, e.packages) for e in events] == [("0201", 2, 2), ("5603", 2, 1)]
    assert {(e.minutes_above, e.peak_c, e.seq) for e in events} == {(40.0, 11.0, 7)}
    empty = service.record("x2", "F1/冷冻", *WARM, source="test")
    assert [(e.vaccine, e.doses, e.packages) for e in exposure_events_of(8, empty, str)] == [
        (None, 0, 0)
    ]


def test_an_event_is_one_line_of_protocol(service: ExcursionService) -> None:
    event = ExposureEvent(
        seq=3, excursion="alarm-1-9", fridge="F1", compartment="冷藏", vaccine="0201",
        start=WARM[0], doses=2, packages=2, minutes_above=40.0, minutes_below=0.0,
        peak_c=11.0, trough_c=float("nan"),
    )  # fmt: skip
    assert exposure_event_line(event, identity_from_settings(service.settings)) == (
        "coldchain_exposure,compartment=冷藏,excursion=alarm-1-9,fridge=F1,gateway=10001,"
        "region=610102,unit=6101030203,vaccine=0201 doses=2i,packages=2i,minutes_above=40.0,"
        f"minutes_below=0.0,peak_c=11.0,seq=3i {to_millis(WARM[0])}"
    )


def test_the_source_reads_after_its_cursor_and_by_month(service: ExcursionService) -> None:
    source = service.exposures
    assert source.after(0, 10).last is None
    service.record("x1", COLD, *WARM, source="test")
    service.record("x2", "F1/冷冻", *WARM, source="test")
    first = source.after(0, 1)
    assert ([e.excursion for e in first.events], first.last, first.rows) == (["x1", "x1"], 1, 1)
    assert [e.excursion for e in source.after(1, 10).events] == ["x2"]
    assert source.after(2, 10).last is None
    assert len(source.started_between(T0, T0 + timedelta(hours=1, minutes=1))) == 3
    assert source.started_between(T0 + timedelta(hours=2), T0 + timedelta(hours=3)) == []
    source.save_cursor("k", 2)
    assert ExposureEvents(service.quarantine).read_cursor("k") == 2


@pytest_asyncio.fixture
async def influx_sink(influxd: Influxd, service: ExcursionService) -> AsyncIterator[Sink]:
    settings = InfluxSettings.model_validate({"url": influxd.url, "v1_db": "coldchain"})
    sink = make_sink(settings, LineEncoder(identity_from_settings(service.settings)))
    yield sink
    await sink.close()


def _lane(service: ExcursionService, sink: Sink) -> EventLane[ExposureEvent]:
    identity = identity_from_settings(service.settings)
    return exposure_lane("influx", service.exposures, sink.send_body, identity, FakeClock(T0))


@pytest.mark.asyncio
async def test_an_excursion_reaches_influxdb_through_an_outage_and_a_restart(
    influxd: Influxd, influx_sink: Sink, service: ExcursionService
) -> None:
    service.record("x1", COLD, *WARM, source="test")
    influxd.stop()
    lane = _lane(service, influx_sink)
    assert await lane.step() > 0, "a server that is down is retried after a backoff"
    assert (lane.cursor, lane.sent) == (0, 0)
    assert influxd.url in (lane.last_error or "")
    influxd.start()
    assert await lane.step() == 2.0
    assert (lane.cursor, lane.sent, lane.last_error) == (1, 2, None)
    query = "SELECT doses, packages, minutes_above, peak_c FROM coldchain_exposure GROUP BY *"
    rows = influxd.rows("coldchain", query)
    assert sorted((r["vaccine"], r["doses"], r["packages"], r["time"]) for r in rows) == [
        ("0201", 2, 2, to_millis(WARM[0])),
        ("5603", 2, 1, to_millis(WARM[0])),
    ]
    assert {(r["unit"], r["region"], r["fridge"], r["compartment"]) for r in rows} == {
        ("6101030203", "610102", "F1", "冷藏")
    }

    service.record("x2", "F1/冷冻", *WARM, source="test")
    restarted = _lane(service, influx_sink)
    assert restarted.cursor == 1, "the cursor survives a restart"
    await restarted.step()
    assert (restarted.cursor, restarted.sent) == (2, 1), "only the new excursion is sent"
    rows = influxd.rows("coldchain", query)
    assert sorted(r["excursion"] for r in rows) == ["x1", "x1", "x2"]


@pytest.fixture
def strict_vm(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """VictoriaMetrics keeping every sample written: a point sent twice is stored twice."""
    server = VictoriaMetrics.create(tmp_path / "vm-strict")
    server.argv = [arg for arg in server.argv if not arg.startswith("-dedup.")]
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.asyncio
async def test_exactly_once_into_victoriametrics_across_restarts(
    strict_vm: VictoriaMetrics, service: ExcursionService
) -> None:
    settings = InfluxSettings.model_validate(
        {"url": strict_vm.url, "bucket": "coldchain", "org": "county"}
    )
    sink = make_sink(settings, LineEncoder(identity_from_settings(service.settings)))
    try:
        service.record("x1", COLD, *WARM, source="test")
        for _ in range(3):  # three starts of the lane, each stepping more than once
            lane = _lane(service, sink)
            await lane.step()
            await lane.step()
        service.record("x2", "F1/冷冻", *WARM, source="test")
        lane = _lane(service, sink)
        await lane.step()
        await lane.step()
    finally:
        await sink.close()
    doses = strict_vm.samples("coldchain_exposure_doses", at_least=3)
    assert sorted((labels.get("vaccine", ""), labels["excursion"], value)
                  for labels, _, value in doses) == [
        ("", "x2", 0.0), ("0201", "x1", 2.0), ("5603", "x1", 2.0),
    ]  # fmt: skip
    assert {ts for _, ts, _ in doses} == {to_millis(WARM[0])}
    assert lane.cursor == 2


@pytest.mark.asyncio
async def test_a_running_gateway_with_a_ledger_forwards_its_excursions(
    influxd: Influxd, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    settings = clinic(data, port=free_port()).model_copy(
        update={
            "alerts": None,
            "http": HttpSettings(host="127.0.0.1", port=0),
            "influx": InfluxSettings.model_validate({"url": influxd.url, "v1_db": "coldchain"}),
            "ledger": LedgerSettings(platform_url="http://127.0.0.1:9/upload"),
        }
    )
    data.mkdir()
    with LedgerDB.in_folder(data) as db, ReadingStore(data / READINGS.file) as readings:
        catalogue = Catalogue(db)
        catalogue.import_json(json.dumps(SHIPMENT))
        stock = StockLedger(db, catalogue, FakeClock(T0))
        service = ExcursionService(
            settings, FakeClock(T0), db, stock, readings=readings, stability=StabilityTable()
        )
        service.locations.receive_into(covid(1), COLD, event_id="in", actor="王芳")
        service.record("x1", COLD, *WARM, source="test")
    stop = asyncio.Event()
    gateway = Gateway(settings, FakeClock(T0))
    running = asyncio.create_task(gateway.run(stop), name="gateway")
    try:
        await asyncio.wait_for(gateway.listening, 20)
        query = "SELECT doses FROM coldchain_exposure GROUP BY *"
        await wait_until(lambda: bool(influxd.rows("coldchain", query)), timeout=20)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{gateway.listening.result().url}api/health") as answer,
        ):
            lanes = (await answer.json())["exposure_events"]
        assert (lanes["influx"]["sent"], lanes["influx"]["last_error"]) == (1, None), lanes
    finally:
        stop.set()
        await running
    rows = influxd.rows("coldchain", query)
    assert [(r["vaccine"], r["doses"], r["excursion"]) for r in rows] == [("5603", 2, "x1")]
