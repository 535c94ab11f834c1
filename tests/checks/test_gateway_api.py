"""The checks wired into the gateway's own app (real sign-in by API token): a failed
calibration shows in /api/health and /api/fridges, a missing record in health."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.auth.policy import Role
from gateway.core.clock import FakeClock
from gateway.readings.clock_sync import ClockSync
from gateway.readings.recorder import Recorder
from gateway.readings.sources import Sources
from gateway.settings import StoreSettings, parse_settings
from gateway.storage.checks import ChecksStore
from gateway.storage.readings import ReadingStore
from gateway.storage.registry import CHECKS
from gateway.storage.scans import ScanStore, scan_sink
from gateway.web.app import build_app
from gateway.web.keys import SettingsInForce
from gateway.web.routes.checks_http import Checks
from probes.reading import ProbeStatus, Reading
from tests.checks.conftest import CLINIC, T0
from tests.web_support import api_token, bearer, close_auth, idle_drivers, open_auth

pytestmark = pytest.mark.asyncio


async def test_repair_flag_and_missing_record_in_health_and_fridges(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    settings = parse_settings(CLINIC, "test")
    with (
        ReadingStore(tmp_path / "r.sqlite3") as store,
        ScanStore(tmp_path / "s.sqlite3") as scans,
        ChecksStore(tmp_path / CHECKS.file, clock.now()) as checks,
    ):
        recorder = Recorder(store, clock, StoreSettings())
        auth = open_auth(tmp_path, clock)
        app = build_app(
            settings=SettingsInForce(settings),
            clock=clock,
            store=store,
            recorder=recorder,
            drivers=idle_drivers(settings, clock),
            sources=Sources(scans, scan_sink(scans)),
            clock_sync=ClockSync(clock, lambda: True),
            auth=auth,
            started_at=T0,
            checks=Checks(checks, settings, store, clock),
        )
        technician = bearer(api_token(tmp_path, Role.TECHNICIAN, name="li.tech"))
        viewer = bearer(api_token(tmp_path, Role.COUNTY, name="county"))
        store.write_batch([Reading("208601", T0 - timedelta(seconds=20), ProbeStatus.OK, 6.0)])
        async with TestClient(TestServer(app)) as client:
            response = await client.post(
                "/api/calibrations", json={"probe": "208601", "reference_c": 4.0}, headers=viewer
            )
            assert response.status == 403
            response = await client.post(
                "/api/calibrations",
                json={"probe": "208601", "reference_c": 4.0},
                headers=technician,
            )
            assert response.status == 201, await response.text()
            await clock.advance(3 * 3600 + 1)  # 11:00 China time, no morning record
            health = await (await client.get("/api/health")).json()
            flags = {probe["code"]: probe["needs_repair"] for probe in health["probes"]}
            assert flags == {"208601": True, "208602": False}
            assert list(health["checks"]["needs_repair"]) == ["208601"]
            assert len(health["checks"]["manual_readings_missing"]) == 2
            fridges = await (await client.get("/api/fridges", headers=viewer)).json()
            flags = {p["code"]: p["needs_repair"] for row in fridges for p in row["probes"]}
            assert flags == {"208601": True, "208602": False}
        close_auth(auth)
