"""Readings stamped before the clock synchronised are not forwarded with wrong times: they wait
for their correction (real VictoriaMetrics), or go out flagged after the hold limit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.core.clock import FakeClock, SystemClock
from gateway.forward.cursor import AckLedger, LaneBook
from gateway.forward.influx import open_influx_forwarder
from gateway.forward.pump import Pump
from gateway.forward.settings import InfluxSettings, PumpSettings
from gateway.readings.clock_sync import READINGS, ClockSync
from gateway.readings.recorder import Recorder
from gateway.settings import StoreSettings
from gateway.storage.readings import ReadingStore, StoredReading, to_millis
from probes.reading import ProbeStatus, Reading
from probes.time_integrity import flag_unsynced
from tests.forward.support import IDENTITY, wait_until
from tests.servers import VictoriaMetrics

BOOT = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)  # the wrong time the gateway booted with
STEP = timedelta(hours=5, minutes=2)  # NTP's step at synchronisation
FAST = {"retry_initial_s": 0.05, "retry_max_s": 0.3, "idle_poll_s": 0.05}


class KernelSync:
    def __init__(self) -> None:
        self.synced = False

    def __call__(self) -> bool:
        return self.synced


@contextlib.asynccontextmanager
async def running(*coroutines: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(item) for item in coroutines]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()


@pytest.mark.asyncio
async def test_held_readings_reach_the_server_with_corrected_times(
    vm: VictoriaMetrics, store: ReadingStore
) -> None:
    before_reboot = Reading("P0", BOOT - timedelta(days=2), ProbeStatus.OK, 3.0, clock_synced=False)
    store.write_batch([before_reboot])
    fake = FakeClock(BOOT)
    kernel = KernelSync()
    sync = ClockSync(fake, kernel, service=lambda: True)
    sync.track(READINGS, store)
    recorder = Recorder(store, SystemClock(), StoreSettings(flush_interval_s=0.02))
    emit = flag_unsynced(recorder.put, sync)
    settings = InfluxSettings.model_validate(
        {"url": vm.url, "bucket": "coldchain", "org": "county", **FAST}
    )
    async with open_influx_forwarder(
        settings, IDENTITY, store, SystemClock(), recorder=recorder
    ) as pump:
        pump.hold_for_time_correction(sync)
        async with running(recorder.run(), pump.run()):
            stamped = []
            for index in range(20):
                await fake.advance(60.0)
                stamped.append(fake.now())
                await emit(Reading(f"P{index % 2}", fake.now(), ProbeStatus.OK, 4.0 + index / 10))
            await wait_until(lambda: store.last_seq() == 21 and pump.stats().cursor == 1)
            assert pump.stats().backlog == 20  # held, not lost
            assert [ts for _, ts, _ in vm.samples("coldchain_status", at_least=1)] == [
                to_millis(before_reboot.taken_at)
            ]
            assert len(vm.samples("coldchain_clock_synced", at_least=1)) == 1  # sent flagged

            fake.jump_wall(STEP)
            kernel.synced = True
            await fake.advance(60.0)
            await sync.check()
            await wait_until(lambda: pump.stats().cursor == 21)
    times = sorted(ts for _, ts, _ in vm.samples("coldchain_status", at_least=21))
    assert times == [to_millis(before_reboot.taken_at)] + [to_millis(at + STEP) for at in stamped]
    assert len(vm.samples("coldchain_clock_synced")) == 1  # the corrected ones carry no flag


class Collecting:
    """A sink that accepts everything and keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[StoredReading] = []

    async def send(self, batch: Sequence[StoredReading]) -> None:
        self.sent.extend(batch)

    def prepare(self, batch: Sequence[StoredReading]) -> None:
        pass

    async def wait_ready(self) -> None:
        await asyncio.Event().wait()


@pytest.mark.asyncio
async def test_after_the_hold_limit_readings_go_out_flagged(store: ReadingStore) -> None:
    fake = FakeClock(BOOT)
    sync = ClockSync(fake, KernelSync(), service=lambda: True)
    sync.track(READINGS, store)
    store.write_batch([Reading("P0", fake.now(), ProbeStatus.OK, 4.0, clock_synced=False)])
    sink = Collecting()
    pump = Pump(
        "test",
        "collector",
        sink,
        store=store,
        clock=SystemClock(),
        settings=PumpSettings(idle_poll_s=0.02, unsynced_hold_s=600.0),
    )
    pump.hold_for_time_correction(sync)
    async with running(pump.run()):
        await asyncio.sleep(0.2)
        assert sink.sent == []
        await fake.advance(601.0)
        await wait_until(lambda: len(sink.sent) == 1)
    (sent,) = sink.sent
    assert (sent.reading.clock_synced, sent.time_corrected) == (False, False)


def test_lanes_leave_held_readings_to_the_backlog_which_stops_before_them() -> None:
    rows = [
        StoredReading(seq, Reading("P0", BOOT, ProbeStatus.OK, 4.0, clock_synced=seq < 4))
        for seq in (1, 2, 4, 5)  # seq 3 was pruned
    ]

    def held(item: StoredReading) -> bool:
        return not item.reading.clock_synced

    def fetch(pos: int, limit: int) -> list[StoredReading]:
        return [item for item in rows if item.seq > pos][:limit]

    book = LaneBook(AckLedger(), live_capacity=10, next_live_seq=1)
    book.offer(rows, held)
    assert book.live_pending == 2  # seqs 1 and 2; 4 and 5 wait in the store
    assert book.take_live(10) == rows[:2]
    book.live_acked(rows[:2])
    planned = book.plan_backlog(fetch, 100, held)
    assert planned is not None
    assert (planned.lo, planned.hi, planned.rows) == (3, 3, [])  # the hole, up to seq 4
    book.backlog_acked(planned)
    assert book.plan_backlog(fetch, 100, held) is None  # waits at seq 4
    released = book.plan_backlog(fetch, 100, None)
    assert released is not None
    assert [item.seq for item in released.rows] == [4, 5]
    assert released.hi == 5
