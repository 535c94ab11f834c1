"""InfluxDB forwarding against real servers: outages, live first, exactly once, escaping."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from gateway.core.clock import SystemClock
from gateway.forward.influx import open_influx_forwarder
from gateway.forward.pump import Pump
from gateway.forward.settings import InfluxSettings
from gateway.readings.recorder import Recorder
from gateway.settings import StoreSettings
from gateway.storage.readings import ReadingStore, to_millis
from probes.reading import STATUS_CODES, Reading
from tests.forward.support import IDENTITY, key, readings, wait_until
from tests.servers import Influxd, VictoriaMetrics

pytestmark = pytest.mark.asyncio

FAST = {"retry_initial_s": 0.05, "retry_max_s": 0.3, "idle_poll_s": 0.2}


def vm_settings(server: VictoriaMetrics, **extra: object) -> InfluxSettings:
    return InfluxSettings.model_validate(
        {"url": server.url, "bucket": "coldchain", "org": "county", **FAST, **extra}
    )


def v1_settings(server: Influxd, **extra: object) -> InfluxSettings:
    return InfluxSettings.model_validate({"url": server.url, "v1_db": "coldchain", **FAST, **extra})


@contextlib.asynccontextmanager
async def forwarding(
    settings: InfluxSettings, store: ReadingStore, recorder: Recorder | None
) -> AsyncIterator[Pump]:
    async with open_influx_forwarder(
        settings, IDENTITY, store, SystemClock(), recorder=recorder
    ) as pump:
        task = asyncio.create_task(pump.run())
        try:
            yield pump
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def recording(store: ReadingStore) -> AsyncIterator[Recorder]:
    recorder = Recorder(store, SystemClock(), StoreSettings(flush_interval_s=0.05))
    task = asyncio.create_task(recorder.run())
    try:
        yield recorder
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def produce(recorder: Recorder, items: list[Reading], per_tick: int, tick: float) -> None:
    for start in range(0, len(items), per_tick):
        for item in items[start : start + per_tick]:
            await recorder.put(item)
        await asyncio.sleep(tick)


def vm_points(server: VictoriaMetrics, expected: int) -> list[tuple[str, int, float]]:
    return [
        (labels["probe"], ts, value)
        for labels, ts, value in server.samples("coldchain_status", at_least=expected)
    ]


def assert_exactly(produced: list[Reading], points: list[tuple[str, int, float]]) -> None:
    """Every reading once, nothing else, with its status."""
    assert len(points) == len(produced), (len(points), len(produced))
    expected = {key(item): STATUS_CODES[item.status] for item in produced}
    got = {(probe, ts): value for probe, ts, value in points}
    assert got == expected


async def test_vm_outage_and_restart_lose_nothing_and_duplicate_nothing(
    vm: VictoriaMetrics, store: ReadingStore
) -> None:
    produced = readings(0, 2400)
    async with recording(store) as recorder, forwarding(vm_settings(vm), store, recorder) as pump:
        await produce(recorder, produced[:600], 40, 0.02)
        vm.stop()
        await produce(recorder, produced[600:1600], 40, 0.02)  # accumulates while down
        assert pump.stats().backlog > 0
        assert "cannot connect" in (pump.stats().last_error or "")
        vm.start()
        await produce(recorder, produced[1600:], 40, 0.02)
        await wait_until(lambda: store.last_seq() == len(produced) and pump.stats().backlog == 0)
        stats = pump.stats()
        assert stats.cursor == len(produced)
        assert stats.points_set_aside == 0
        assert stats.points_sent == len(produced)  # no lane sent anything twice
    assert_exactly(produced, vm_points(vm, len(produced)))
    expected = {key(item) for item in produced if item.temperature is not None}
    stored = vm.samples("coldchain_temperature", at_least=len(expected))
    temperatures = {(labels["probe"], ts) for labels, ts, _ in stored}
    assert temperatures == expected


async def test_live_readings_overtake_a_large_backlog(
    vm: VictoriaMetrics, store: ReadingStore
) -> None:
    backlog = readings(0, 60_000, probes=4, every_s=1.0)
    store.write_batch(backlog)
    live = readings(200_000, 8, probes=4, every_s=1.0)
    async with recording(store) as recorder, forwarding(vm_settings(vm), store, recorder) as pump:
        await asyncio.sleep(0.05)  # the backlog lane starts
        for item in live:
            await recorder.put(item)
        first_live_seq = len(backlog) + 1
        await wait_until(lambda: pump.acknowledged(first_live_seq), timeout=30, every=0.005)
        backlog_left = pump.stats().backlog
        await wait_until(lambda: pump.stats().backlog == 0, timeout=60)
    assert backlog_left > 0, "the live batch was expected to arrive before the backlog drained"
    assert_exactly(backlog + live, vm_points(vm, len(backlog) + len(live)))


async def test_influx_v1_outage_and_restart_exactly_once(
    influxd: Influxd, store: ReadingStore
) -> None:
    produced = readings(0, 1600)
    async with (
        recording(store) as recorder,
        forwarding(v1_settings(influxd), store, recorder) as pump,
    ):
        await produce(recorder, produced[:400], 40, 0.02)
        influxd.stop()
        await produce(recorder, produced[400:1000], 40, 0.02)
        influxd.start()
        await produce(recorder, produced[1000:], 40, 0.02)
        await wait_until(lambda: store.last_seq() == len(produced) and pump.stats().backlog == 0)
    rows = influxd.rows("coldchain", "SELECT probe, status, temperature FROM coldchain")
    assert len(rows) == len(produced)
    assert {(row["probe"], row["time"]) for row in rows} == {key(item) for item in produced}
    times = [
        row["time"]
        for row in influxd.rows("coldchain", "SELECT * FROM coldchain WHERE probe = 'P0'")
    ]
    assert times == sorted(times)


async def test_tags_with_chinese_spaces_commas_and_escapes_read_back_exactly(
    influxd: Influxd, vm: VictoriaMetrics, store: ReadingStore
) -> None:
    produced = readings(0, 8)
    store.write_batch(produced)
    for settings in (v1_settings(influxd), vm_settings(vm)):
        async with forwarding(settings, store, None) as pump:
            await wait_until(lambda: pump.stats().cursor == len(produced))
    rows = influxd.rows(
        "coldchain",
        "SELECT * FROM coldchain GROUP BY compartment, fridge, gateway, kind, probe, unit",
    )
    seen = {(row["probe"], row["compartment"], row["fridge"], row["kind"]) for row in rows}
    expected = {
        (code, tags.compartment, tags.fridge, tags.kind) for code, tags in IDENTITY.probes.items()
    }
    assert seen == expected
    assert {row["unit"] for row in rows} == {IDENTITY.unit}
    vm_seen = {
        (labels["probe"], labels["compartment"]) for labels, _, _ in vm.samples("coldchain_status")
    }
    assert vm_seen == {(code, tags.compartment) for code, tags in IDENTITY.probes.items()}
    assert {ts for _, ts, _ in vm.samples("coldchain_status")} == {
        to_millis(item.taken_at) for item in produced
    }


async def test_influxdb_16_without_v2_api_shows_in_health_and_keeps_the_data(
    influxd: Influxd, store: ReadingStore
) -> None:
    """InfluxDB 1.6 has no /api/v2/write: the v2 client gets 404 page not found."""
    store.write_batch(readings(0, 10))
    settings = InfluxSettings.model_validate({"url": influxd.url, "bucket": "coldchain", **FAST})
    async with forwarding(settings, store, None) as pump:
        await wait_until(lambda: pump.stats().last_error is not None)
        stats = pump.stats()
    assert stats.state == "auth_failed"
    assert stats.cursor == 0
    assert stats.backlog == 10
    assert "404" in (stats.last_error or "")


async def test_missing_v1_database_is_named_with_its_fix_and_keeps_the_data(
    influxd: Influxd, store: ReadingStore
) -> None:
    """A 404 "database not found" is not a credentials problem: it says which database and
    how to fix it, and the readings wait in the store."""
    store.write_batch(readings(0, 10))
    async with forwarding(v1_settings(influxd, v1_db="missing"), store, None) as pump:
        await wait_until(lambda: pump.stats().last_error is not None)
        stats = pump.stats()
    assert stats.state == "database_missing"
    assert stats.cursor == 0
    assert stats.backlog == 10
    error = stats.last_error or ""
    assert 'database not found: "missing"' in error
    assert 'CREATE DATABASE "missing"' in error
    assert "--influx-v1-db" in error
