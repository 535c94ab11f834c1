"""The disk budget drops forwarded readings first, thins in-range ones, keeps excursions."""

from __future__ import annotations

import itertools
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.core.clock import FakeClock
from gateway.storage.disk_budget import DiskBudget, DiskBudgetSettings
from gateway.storage.readings import ReadingStore
from probes.reading import ProbeStatus, Reading
from tests.forward.support import T0

pytestmark = pytest.mark.asyncio


def fill(store: ReadingStore, minutes: int) -> None:
    """Two probes, one reading a minute; P1 is too warm from minute 100 to 159."""
    batch = []
    for minute in range(minutes):
        at = T0 + timedelta(minutes=minute)
        batch.append(Reading("P0", at, ProbeStatus.OK, 5.0))
        warm = 100 <= minute < 160
        batch.append(Reading("P1", at, ProbeStatus.OK, 9.5 if warm else 4.0))
    store.write_batch(batch)


def budget(store: ReadingStore, max_bytes: int, forwarded: int | None) -> DiskBudget:
    if forwarded is not None:
        store.set_meta("forward.influx.cursor", json.dumps({"cursor": forwarded, "ranges": []}))
    return DiskBudget(
        store.path,
        DiskBudgetSettings(max_bytes=max_bytes, thin_every_s=900),
        FakeClock(),
        ranges={"P0": (2.0, 8.0), "P1": (2.0, 8.0)},
        forwarders=["influx"] if forwarded is not None else [],
    )


async def test_under_budget_nothing_is_deleted(tmp_path: Path) -> None:
    with ReadingStore(tmp_path / "r.db") as store:
        fill(store, 200)
        checker = budget(store, 10_000_000, 0)
        try:
            assert sum((await checker.enforce()).values()) == 0
        finally:
            checker.close()
        assert store.count() == 400


async def test_forwarded_go_first_then_thinning_and_excursions_stay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ReadingStore(tmp_path / "r.db") as store:
        fill(store, 6000)
        checker = budget(store, 100_000, forwarded=150)  # minutes 0-74 forwarded
        try:
            full = checker.used_bytes()
            checker._settings = DiskBudgetSettings(max_bytes=max(100_000, full // 2))
            with caplog.at_level(logging.WARNING):
                deleted = await checker.enforce()
            assert checker.used_bytes() <= checker._settings.max_bytes
            # Every forwarded reading went (all in range here) before any thinning.
            assert deleted["forwarded_in_range"] == 150
            assert deleted["thinned_in_range"] > 0
            assert deleted["unforwarded_in_range"] == deleted["unforwarded_excursion"] == 0
            warm = [
                item
                for item in store.readings(probe="P1", limit=10**6)
                if item.reading.temperature == 9.5
            ]
            assert len(warm) == 60, "the excursion period is kept"
            assert checker.stats().deleted["forwarded_in_range"] > 0
            assert "forwarded in range readings taken" in (checker.stats().last_report or "")
            assert any("disk budget" in record.message for record in caplog.records)
        finally:
            checker.close()


async def test_without_forwarding_old_in_range_readings_are_thinned(tmp_path: Path) -> None:
    with ReadingStore(tmp_path / "r.db") as store:
        fill(store, 6000)
        checker = budget(store, 100_000, forwarded=None)
        try:
            checker._settings = DiskBudgetSettings(
                max_bytes=max(100_000, int(checker.used_bytes() * 0.7)), thin_every_s=900
            )
            deleted = await checker.enforce()
        finally:
            checker.close()
        assert deleted["forwarded_in_range"] == 0
        assert deleted["thinned_in_range"] > 0
        oldest = store.readings(probe="P0", limit=3)
        gaps = {(b.reading.taken_at - a.reading.taken_at) for a, b in itertools.pairwise(oldest)}
        assert gaps == {timedelta(minutes=15)}, "thinned to one per 15 min"
        warm = [i for i in store.readings(probe="P1", limit=10**6) if i.reading.temperature == 9.5]
        assert len(warm) == 60
