"""End to end in one process: readings flagged while a fake kernel says the clock is not
synchronised flow through the recorder into the store; the kernel flips to synchronised, the
clock watcher corrects them, and the JSON API shows the corrected times and the clock state."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.auth.policy import Role
from gateway.core.clock import FakeClock
from gateway.readings.clock_sync import READINGS, SCANS, ClockSync
from gateway.readings.recorder import Recorder
from gateway.readings.sources import Sources
from gateway.settings import StoreSettings, parse_settings
from gateway.storage.readings import ReadingStore
from gateway.storage.scans import ScanStore, scan_sink
from gateway.web.app import build_app
from gateway.web.keys import SettingsInForce
from probes.reading import ProbeStatus, Reading
from probes.time_integrity import flag_unsynced
from tests.web_support import api_token, bearer, close_auth, idle_drivers, open_auth

pytestmark = pytest.mark.asyncio

BOOT = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(days=327, hours=3)


class KernelSync:
    def __init__(self) -> None:
        self.synced = False

    def __call__(self) -> bool:
        return self.synced


@contextlib.asynccontextmanager
async def api(app: web.Application) -> AsyncIterator[TestClient[Any, Any]]:
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def test_flagged_readings_are_corrected_and_shown_so(tmp_path: Path) -> None:
    settings = parse_settings(
        {
            "unit": {"code": "6101030203", "name": "clinic", "region_code": "610102"},
            "gateway": {"number": "10001", "data_dir": str(tmp_path)},
        },
        "test",
    )
    clock = FakeClock(BOOT)
    kernel = KernelSync()
    with ReadingStore(tmp_path / "r.sqlite3") as store, ScanStore(tmp_path / "s.sqlite3") as scans:
        sync = ClockSync(clock, kernel, check_s=60.0)
        sync.track(READINGS, store)
        sync.track(SCANS, scans)
        recorder = Recorder(store, clock, StoreSettings(flush_interval_s=1.0))
        emit = flag_unsynced(recorder.put, sync)
        auth = open_auth(tmp_path, clock)
        app = build_app(
            settings=SettingsInForce(settings),
            clock=clock,
            store=store,
            recorder=recorder,
            drivers=idle_drivers(settings, clock),
            sources=Sources(scans, scan_sink(scans)),
            clock_sync=sync,
            auth=auth,
            started_at=BOOT,
        )
        viewer = bearer(api_token(tmp_path, Role.COUNTY))
        async with asyncio.TaskGroup() as group, api(app) as client:
            tasks = [
                group.create_task(recorder.run(), name="recorder"),
                group.create_task(sync.watch(), name="clock-sync"),
            ]
            for index in range(3):
                await emit(Reading("P1", clock.now(), ProbeStatus.OK, 4.0 + index))
                await clock.advance(20.0)
            health = await (await client.get("/api/health")).json()
            assert health["clock_synced"] is False
            assert "not synchronised" in health["clock"]["warning"]
            body = await (await client.get("/api/readings", headers=viewer)).json()
            assert [row["clock_synced"] for row in body["readings"]] == [False] * 3
            assert [row["time_corrected"] for row in body["readings"]] == [False] * 3

            clock.jump_wall(STEP)
            kernel.synced = True
            await clock.advance(60.0)

            health = await (await client.get("/api/health")).json()
            assert health["clock"]["synced"] is True
            assert health["clock"]["warning"] is None
            assert health["clock"]["last_correction"]["corrected"][READINGS] == 3
            assert health["clock"]["last_correction"]["offset_applied_s"] == STEP.total_seconds()
            body = await (await client.get("/api/readings", headers=viewer)).json()
            rows = body["readings"]
            assert [row["time_corrected"] for row in rows] == [True] * 3
            assert [datetime.fromisoformat(row["taken_at"]) for row in rows] == [
                BOOT + STEP + timedelta(seconds=20 * index) for index in range(3)
            ]
            for task in tasks:
                task.cancel()
        close_auth(auth)
