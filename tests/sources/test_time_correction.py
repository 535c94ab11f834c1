"""Correcting times stamped before the wall clock synchronised: the pure offset timeline, the
stores' correction, and ClockSync driving both with a fake kernel-sync source."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.clock import FakeClock
from gateway.readings.clock_sync import READINGS, SCANS, ClockSync, time_service_running
from gateway.readings.time_correction import OffsetTimeline, offset_of
from gateway.storage import registry
from gateway.storage.readings import ReadingStore, to_millis
from gateway.storage.scans import ScanStore
from probes.reading import ProbeStatus, Reading
from probes.scan import Scan

BOOT = datetime(2026, 1, 1, tzinfo=UTC)  # where the clock starts: fake-hwclock's saved time
STEP = timedelta(hours=7, minutes=13, seconds=4.25)  # what NTP adds at synchronisation


class KernelSync:
    """A fake of the system's "is the clock synchronised" answer."""

    def __init__(self, synced: bool = False) -> None:
        self.synced = synced

    def __call__(self) -> bool:
        return self.synced


def wall(mono: float, offset: float) -> datetime:
    return datetime.fromtimestamp(mono + offset, UTC)


# -- the pure timeline ---------------------------------------------------------------------


def test_one_step_at_synchronisation_shifts_rows_before_it_and_not_after() -> None:
    before = offset_of(BOOT, 0.0)
    timeline = OffsetTimeline(0.0, before)
    for mono in (60.0, 120.0, 180.0):
        timeline.observe(mono, before)
    after = before + STEP.total_seconds()
    timeline.observe(240.0, after)  # the check that saw the step (and synchronisation)
    timeline.end(240.0)
    assert timeline.steps == 1
    assert timeline.shift_for(wall(10.0, before)) == STEP
    assert timeline.shift_for(wall(200.0, before)) == STEP  # between the last two checks
    assert timeline.shift_for(wall(230.0, after)) == timedelta(0)  # stamped after the step
    assert timeline.shift_for(wall(900.0, after)) is None  # after the synchronising check


def test_slewing_is_not_a_step() -> None:
    timeline = OffsetTimeline(0.0, 1000.0)
    timeline.observe(60.0, 1000.03)
    timeline.observe(120.0, 1000.06)
    assert timeline.steps == 0
    shift = timeline.shift_for(wall(30.0, 1000.0))
    assert shift is not None
    assert abs(shift.total_seconds()) <= 0.06  # a slewed clock's rows move by milliseconds


def test_two_steps_while_unsynchronised_give_each_row_its_own_shift() -> None:
    timeline = OffsetTimeline(0.0, 0.0)
    timeline.observe(60.0, 0.0)
    timeline.observe(120.0, 3600.0)  # someone set the date by hand
    timeline.observe(180.0, 3600.0)
    timeline.observe(240.0, 90_000.0)  # NTP
    assert timeline.shift_for(wall(30.0, 0.0)) == timedelta(seconds=90_000)
    assert timeline.shift_for(wall(150.0, 3600.0)) == timedelta(seconds=86_400)
    assert timeline.shift_for(wall(250.0, 90_000.0)) == timedelta(0)


def test_a_step_shorter_than_the_check_interval_is_ambiguous() -> None:
    timeline = OffsetTimeline(0.0, 0.0)
    timeline.observe(60.0, 20.0)  # 20 s step: a stamp in 0..60 fits both sides of it
    assert timeline.shift_for(wall(50.0, 0.0)) is None
    assert timeline.shift_for(wall(-500.0, 0.0)) is None  # before the period: fits nothing


@given(
    step=st.floats(min_value=120.0, max_value=1e8) | st.floats(min_value=-1e8, max_value=-800.0),
    taken=st.floats(min_value=0.0, max_value=600.0),
    sync_at=st.floats(min_value=601.0, max_value=700.0),
)
def test_any_large_step_is_undone_exactly(step: float, taken: float, sync_at: float) -> None:
    """A row stamped before a forward step of more than the check interval (a Pi's clock is
    behind) or a backward step longer than the whole period is moved to the time it would have
    had on the synchronised clock."""
    base = offset_of(BOOT, 0.0)
    timeline = OffsetTimeline(0.0, base)
    for mono in range(60, 601, 60):
        timeline.observe(float(mono), base)
    timeline.observe(sync_at, base + step)
    timeline.end(sync_at)
    stamped = wall(taken, base)
    shift = timeline.shift_for(stamped)
    assert shift is not None
    assert abs(((stamped + shift) - wall(taken, base + step)).total_seconds()) < 1e-3


# -- the stores ----------------------------------------------------------------------------


def unsynced(probe: str, at: datetime, value: float = 4.0) -> Reading:
    return Reading(probe, at, ProbeStatus.OK, value, clock_synced=False)


def test_readings_store_corrects_and_trusts_rows_once(tmp_path: Path) -> None:
    with ReadingStore(tmp_path / "r.sqlite3") as store:
        store.write_batch([unsynced("P1", BOOT), Reading("P1", BOOT, ProbeStatus.OK, 5.0)])
        assert store.unsynced_after(0) == [(1, BOOT)]
        assert store.correct_times([(1, BOOT + STEP)]) == 1
        assert store.correct_times([(1, BOOT + 2 * STEP)]) == 0  # already corrected
        assert store.unsynced_after(0) == []
        first, second = store.readings_after(0)
        assert (first.reading.taken_at, first.reading.clock_synced) == (BOOT + STEP, True)
        assert (first.time_corrected, second.time_corrected) == (True, False)


def test_a_store_of_the_previous_schema_migrates_forward(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for statement in registry.READINGS.migrations[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO probes (id, code) VALUES (1, 'P1')")
    conn.execute(
        "INSERT INTO readings (probe_id, taken_at, status, temperature, clock_synced)"
        " VALUES (1, ?, 0, 4.0, 0)",
        (to_millis(BOOT),),
    )
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    with ReadingStore(path) as store:
        (row,) = store.readings_after(0)
        assert (row.reading.clock_synced, row.time_corrected) == (False, False)
        assert store.unsynced_after(0) == [(1, BOOT)]


def test_scan_store_lists_unsynced_scans_until_corrected(tmp_path: Path) -> None:
    with ScanStore(tmp_path / "s.sqlite3") as store:
        store.add(Scan(b"A", "s1", "desk", BOOT, clock_synced=False))
        store.add(Scan(b"B", "s1", "desk", BOOT))
        assert store.unsynced_after(0) == [(1, BOOT)]
        store.correct_times([(1, BOOT + STEP)])
        assert store.unsynced_after(0) == []


# -- ClockSync over real stores ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_synchronisation_corrects_this_runs_rows_and_not_the_previous_runs(
    tmp_path: Path,
) -> None:
    clock = FakeClock(BOOT)
    kernel = KernelSync(False)
    with (
        ReadingStore(tmp_path / "r.sqlite3") as readings,
        ScanStore(tmp_path / "s.sqlite3") as scans,
    ):
        readings.write_batch([unsynced("P1", BOOT - timedelta(days=3))])  # before a reboot
        sync = ClockSync(clock, kernel, check_s=60.0)
        sync.track(READINGS, readings)
        sync.track(SCANS, scans)
        assert not sync()
        stamped = []
        for _ in range(5):
            await clock.advance(60.0)
            await sync.check()
            stamped.append(clock.now())
            readings.write_batch([unsynced("P1", clock.now())])
            scans.add(Scan(b"X", "s1", "desk", clock.now(), clock_synced=False))
        health = sync.health()
        assert health["synced"] is False
        assert "not synchronised" in str(health["warning"])
        await clock.advance(30.0)
        clock.jump_wall(STEP)  # NTP steps the clock ...
        readings.write_batch([unsynced("P1", clock.now())])  # ... a reading before the check
        await clock.advance(30.0)
        kernel.synced = True
        await sync.check()
        assert sync()
        rows = readings.readings_after(0)
        assert (rows[0].reading.taken_at, rows[0].reading.clock_synced) == (
            BOOT - timedelta(days=3),
            False,
        )
        assert [row.reading.taken_at for row in rows[1:6]] == [at + STEP for at in stamped]
        assert rows[6].reading.taken_at == BOOT + timedelta(seconds=330) + STEP
        assert all(row.time_corrected and row.reading.clock_synced for row in rows[1:])
        assert [row.scan.taken_at for row in scans.after(0)] == [at + STEP for at in stamped]
        report = sync.health()["last_correction"]
        assert isinstance(report, dict)
        assert report["corrected"] == {READINGS: 6, SCANS: 5}
        assert report["left_flagged"] == {READINGS: 0, SCANS: 0}
        assert report["offset_applied_s"] == STEP.total_seconds()
        assert sync.health()["warning"] is None


@pytest.mark.asyncio
async def test_a_row_still_on_its_way_is_corrected_at_the_next_check(tmp_path: Path) -> None:
    clock = FakeClock(BOOT)
    kernel = KernelSync(False)
    with ReadingStore(tmp_path / "r.sqlite3") as readings:
        sync = ClockSync(clock, kernel, service=lambda: True)
        sync.track(READINGS, readings)
        late = unsynced("P1", clock.now())  # flagged, still in the recorder's queue
        await clock.advance(60.0)
        clock.jump_wall(STEP)
        kernel.synced = True
        await sync.check()
        readings.write_batch([late])
        (row,) = readings.readings_after(0)
        assert sync.holds(row, limit_s=3600.0)  # the period is open for one more check
        await clock.advance(60.0)
        await sync.check()
        (row,) = readings.readings_after(0)
        assert row.reading.taken_at == BOOT + STEP
        assert not sync.holds(row, limit_s=3600.0)


@pytest.mark.asyncio
async def test_watch_checks_on_the_clock_and_a_lost_sync_starts_a_new_period(
    tmp_path: Path,
) -> None:
    clock = FakeClock(BOOT)
    kernel = KernelSync(True)
    with ReadingStore(tmp_path / "r.sqlite3") as readings:
        sync = ClockSync(clock, kernel, service=lambda: True, check_s=60.0)
        sync.track(READINGS, readings)
        watching = asyncio.create_task(sync.watch(), name="clock-sync")
        try:
            kernel.synced = False
            await clock.advance(60.0)
            assert not sync()
            readings.write_batch([unsynced("P1", clock.now())])
            (row,) = readings.readings_after(0)
            assert sync.holds(row, limit_s=600.0)
            await clock.advance(600.0)
            assert not sync.holds(row, limit_s=600.0)  # held long enough: goes out flagged
            kernel.synced = True
            await clock.advance(120.0)
            assert sync()
            (row,) = readings.readings_after(0)
            assert row.time_corrected
        finally:
            watching.cancel()


@pytest.mark.asyncio
async def test_without_a_time_service_nothing_is_held(tmp_path: Path) -> None:
    """No timesyncd, chrony or ntpd (a container): the clock will not synchronise by itself, so
    holding readings for a correction would only delay them."""
    marks = [tmp_path / "timesync", tmp_path / "chrony"]
    assert not time_service_running(marks)
    clock = FakeClock(BOOT)
    with ReadingStore(tmp_path / "r.sqlite3") as readings:
        sync = ClockSync(clock, KernelSync(False), service=lambda: time_service_running(marks))
        sync.track(READINGS, readings)
        readings.write_batch([unsynced("P1", clock.now())])
        (row,) = readings.readings_after(0)
        assert not sync.holds(row, limit_s=3600.0)
        assert "sent flagged: no time service" in str(sync.health()["warning"])
        (tmp_path / "chrony").mkdir()  # chronyd started
        await sync.check()
        assert sync.holds(row, limit_s=3600.0)
        assert sync.health()["time_service"] is True
