"""Recorder with a FakeClock: when batches commit, what cancellation keeps, what a full queue
does, and that subscribers only ever see committed readings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.core.clock import FakeClock
from gateway.core.errors import StoreError
from gateway.readings.recorder import Recorder, run_retention
from gateway.settings import StoreSettings
from gateway.storage.readings import ReadingStore, StoredReading
from probes.reading import Reading

from .support import T0, ok, series, unchecked_nan


class Harness:
    def __init__(self, store: ReadingStore, settings: StoreSettings) -> None:
        self.store = store
        self.clock = FakeClock(T0)
        self.recorder = Recorder(store, self.clock, settings)
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.recorder.run(), name="recorder")

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await self.task


@pytest_asyncio.fixture
async def harness(store: ReadingStore) -> AsyncIterator[Harness]:
    rig = Harness(store, StoreSettings(flush_interval_s=0.25, max_batch=10, queue_size=100))
    rig.start()
    await rig.clock.advance(0)
    yield rig
    await rig.stop()


@pytest.mark.asyncio
async def test_an_idle_recorder_waits_for_a_reading_not_for_a_tick(harness: Harness) -> None:
    """With nothing queued the recorder sleeps until a reading comes (an idle gateway does not
    wake four times a second), and that reading waits one whole flush interval from then."""
    await harness.clock.advance(0.1)
    assert harness.recorder.submit(ok())
    await harness.clock.advance(0.2)  # a tick every 0.25 s since the start would commit now
    assert harness.store.count() == 0
    await harness.clock.advance(0.05)
    assert harness.store.count() == 1


@pytest.mark.asyncio
async def test_a_batch_commits_at_the_flush_interval(harness: Harness) -> None:
    for reading in series(4):
        assert harness.recorder.submit(reading)
    await harness.clock.advance(0.2)
    assert harness.store.count() == 0
    await harness.clock.advance(0.05)
    assert harness.store.count() == 4
    stats = harness.recorder.stats()
    assert (stats.written, stats.batches, stats.queue_depth) == (4, 1, 0)
    assert stats.last_commit_at == T0 + timedelta(seconds=0.25)
    assert stats.last_commit_s is not None
    assert stats.max_queue_depth == 4


@pytest.mark.asyncio
async def test_an_idle_interval_commits_nothing(harness: Harness) -> None:
    await harness.clock.advance(1.0)
    assert harness.recorder.stats().batches == 0


@pytest.mark.asyncio
async def test_max_batch_commits_without_waiting_for_the_interval(harness: Harness) -> None:
    for reading in series(10):
        await harness.recorder.put(reading)
    await harness.clock.advance(0)
    assert harness.store.count() == 10
    for reading in series(5, start=10):
        await harness.recorder.put(reading)
    await harness.clock.advance(0)
    assert harness.store.count() == 10
    await harness.clock.advance(0.25)
    assert harness.store.count() == 15
    assert harness.recorder.stats().batches == 2


@pytest.mark.asyncio
async def test_a_burst_is_committed_in_batches_of_max_batch(harness: Harness) -> None:
    sizes: list[int] = []
    harness.recorder.subscribe(lambda batch: sizes.append(len(batch)))
    for reading in series(25):
        harness.recorder.submit(reading)
    await harness.clock.advance(0)
    assert sizes == [10, 10, 5]


@pytest.mark.asyncio
async def test_cancellation_commits_everything_queued(harness: Harness) -> None:
    readings = series(7, probes=3)
    for reading in readings:
        harness.recorder.submit(reading)
    await harness.stop()
    assert [s.reading for s in harness.store.readings_after(0, 100)] == readings


@pytest.mark.asyncio
async def test_a_full_queue_refuses_submit_and_makes_put_wait(store: ReadingStore) -> None:
    rig = Harness(store, StoreSettings(flush_interval_s=1.0, max_batch=5000, queue_size=100))
    readings = series(102)
    assert all(rig.recorder.submit(reading) for reading in readings[:100])
    assert not rig.recorder.submit(readings[100])
    waiting = asyncio.create_task(rig.recorder.put(readings[100]))
    await rig.clock.advance(0)
    assert not waiting.done()
    rig.start()  # the full queue has woken the writer: it commits before the interval
    await rig.clock.advance(0)
    assert waiting.done()
    assert store.count() == 100
    assert rig.recorder.submit(readings[101])
    await rig.stop()
    stats = rig.recorder.stats()
    assert (stats.rejected, stats.waited, stats.max_queue_depth) == (1, 1, 100)
    assert [s.reading for s in store.readings_after(0, 200)] == readings


@pytest.mark.asyncio
async def test_subscribers_see_only_committed_readings(harness: Harness) -> None:
    seen: list[tuple[int, list[StoredReading]]] = []

    def on_commit(batch: Sequence[StoredReading]) -> None:
        seen.append((harness.store.count(), list(batch)))

    unsubscribe = harness.recorder.subscribe(on_commit)
    readings = series(3, probes=3)
    for reading in readings:
        harness.recorder.submit(reading)
    await harness.clock.advance(0.2)
    assert seen == []
    assert harness.recorder.latest == {}
    await harness.clock.advance(0.05)
    assert seen == [(3, [StoredReading(i + 1, r) for i, r in enumerate(readings)])]
    assert dict(harness.recorder.latest) == {r.probe: r for r in readings}
    unsubscribe()
    harness.recorder.submit(ok(minute=9))
    await harness.clock.advance(0.25)
    assert len(seen) == 1


@pytest.mark.asyncio
async def test_a_failing_subscriber_does_not_stop_recording(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(batch: Sequence[StoredReading]) -> None:
        raise RuntimeError("subscriber bug")

    harness.recorder.subscribe(broken)
    harness.recorder.submit(ok())
    with caplog.at_level(logging.ERROR, logger="gateway.readings.recorder"):
        await harness.clock.advance(0.25)
    assert "subscriber" in caplog.text
    harness.recorder.submit(ok(minute=1))
    await harness.clock.advance(0.25)
    assert harness.store.count() == 2


class FlakyStore(ReadingStore):
    """Fails the next `failures` writes as a full disk would."""

    failures = 0

    def write_batch(self, readings: Sequence[Reading]) -> int:
        if self.failures:
            self.failures -= 1
            raise StoreError(f"{self.path}: cannot write readings to the store: disk is full")
        return super().write_batch(readings)


@pytest.mark.asyncio
async def test_a_failed_batch_is_kept_and_retried_first(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with FlakyStore(db_path) as flaky:
        rig = Harness(flaky, StoreSettings(flush_interval_s=0.25, max_batch=10, queue_size=100))
        rig.start()
        flaky.failures = 2
        readings = series(4)
        for reading in readings[:2]:
            rig.recorder.submit(reading)
        await rig.clock.advance(0.25)
        await rig.clock.advance(0.25)
        stats = rig.recorder.stats()
        assert (stats.write_errors, stats.pending, stats.written) == (2, 2, 0)
        assert stats.last_error is not None
        assert "disk is full" in stats.last_error
        for reading in readings[2:]:
            rig.recorder.submit(reading)
        await rig.clock.advance(0.25)
        await rig.stop()
        assert [s.reading for s in flaky.readings_after(0, 10)] == readings
        assert rig.recorder.stats().last_error is None
    assert caplog.text.count("cannot commit") == 1


@pytest.mark.asyncio
async def test_a_reading_the_store_rejects_is_left_out_alone(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    bad = unchecked_nan()
    good = series(3)
    for reading in [good[0], bad, *good[1:]]:
        harness.recorder.submit(reading)
    await harness.clock.advance(0.25)
    assert [s.reading for s in harness.store.readings_after(0, 10)] == good
    assert harness.recorder.stats().invalid == 1
    assert "nan" in caplog.text


@pytest.mark.asyncio
async def test_retention_deletes_old_readings_in_chunks_every_hour(store: ReadingStore) -> None:
    clock = FakeClock(T0 + timedelta(days=10))
    store.write_batch([ok("A", -24 * 60 * 3), ok("A", -24 * 60 * 3 + 1), ok("B", -10)])
    store.write_batch([ok("A", 14_400 - 5), ok("A", 14_400)])  # minutes: day 10, 'now'
    task = asyncio.create_task(run_retention(store, clock, retention_days=10, chunk=1))
    await clock.advance(0)
    assert [s.seq for s in store.readings()] == [4, 5]
    store.write_batch([ok("C", 30)])  # 30 min past the cutoff: goes at the next hourly run
    await clock.advance(3599)
    assert store.count() == 3
    store.write_batch([ok("A", 14_400 + 60)])
    await clock.advance(1)
    assert [s.seq for s in store.readings()] == [4, 5, 7]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.asyncio
async def test_retention_ignores_a_wall_clock_far_in_the_future(store: ReadingStore) -> None:
    clock = FakeClock(T0 + timedelta(days=3650))
    store.write_batch(series(5))
    task = asyncio.create_task(run_retention(store, clock, retention_days=30))
    await clock.advance(0)
    assert store.count() == 5
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
