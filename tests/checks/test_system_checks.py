"""The twice-daily system check (seed 002 日常登录管理: at least twice a day, 6 h apart): looks at
the fridges by the responsible people are kept and each day is judged (issue 16 item 6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.auth.policy import Role
from gateway.checks.system_checks import day_checks
from gateway.core.clock import FakeClock
from gateway.readings.clock_sync import ClockSync
from gateway.readings.recorder import Recorder
from gateway.readings.sources import Sources
from gateway.reports.clinic import system_check_notes
from gateway.settings import StoreSettings, parse_settings
from gateway.storage.checks import ChecksStore
from gateway.storage.readings import ReadingStore
from gateway.storage.registry import CHECKS
from gateway.storage.scans import ScanStore, scan_sink
from gateway.web.app import build_app
from gateway.web.keys import SettingsInForce
from gateway.web.routes.checks_http import Checks
from tests.checks.conftest import CLINIC, T0
from tests.web_support import api_token, bearer, close_auth, idle_drivers, open_auth


def test_a_day_is_met_by_two_looks_six_hours_apart_in_china_time() -> None:
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 China time
    looks = [(at, "wang"), (at + timedelta(hours=5, minutes=59), "zhao"),
             (at + timedelta(days=1), "wang"), (at + timedelta(days=1, hours=6), "wang"),
             (at + timedelta(days=2, hours=14), "wang")]  # fmt: skip
    days = day_checks(looks, date(2026, 3, 2), date(2026, 3, 4))
    assert [(d.looks, d.met) for d in days] == [(2, False), (2, True), (1, False)]
    assert days[0].who == ("wang", "zhao")
    assert days[2].day == date(2026, 3, 4)  # 22:00 UTC on the 3rd is the 4th in China


@pytest.mark.asyncio
async def test_dashboard_views_of_responsible_people_are_kept_and_judged(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    settings = parse_settings(CLINIC, "test")
    with (
        ReadingStore(tmp_path / "r.sqlite3") as store,
        ScanStore(tmp_path / "s.sqlite3") as scans,
        ChecksStore(tmp_path / CHECKS.file, clock.now()) as checks,
    ):
        auth = open_auth(tmp_path, clock)
        app = build_app(
            settings=SettingsInForce(settings), clock=clock, store=store,
            recorder=Recorder(store, clock, StoreSettings()),
            drivers=idle_drivers(settings, clock), sources=Sources(scans, scan_sink(scans)),
            clock_sync=ClockSync(clock, lambda: True), auth=auth, started_at=T0,
            checks=Checks(checks, settings, store, clock),
        )  # fmt: skip
        manager = bearer(api_token(tmp_path, Role.MANAGER, name="wang"))
        nurse = bearer(api_token(tmp_path, Role.VACCINATOR, name="li"))
        async with TestClient(TestServer(app)) as client:
            for headers, hours in ((manager, 0.0), (manager, 0.05), (nurse, 3.0), (nurse, 7.0)):
                await clock.advance(hours * 3600 - (clock.now() - T0).total_seconds())
                assert (await client.get("/api/fridges", headers=headers)).status == 200
            month = T0.strftime("%Y-%m")
            answer = await (await client.get(f"/api/system-checks?month={month}",
                                             headers=nurse)).json()  # fmt: skip
            today = answer["days"][-1]
            assert (today["looks"], today["who"], today["met"]) == (1, ["wang"], False)
            await clock.advance(6 * 3600)
            assert (await client.get("/api/fridges", headers=manager)).status == 200
            answer = await (await client.get(f"/api/system-checks?month={month}",
                                             headers=nurse)).json()  # fmt: skip
            assert answer["days"][-1]["met"] is True
            assert answer["met"] == 1
        close_auth(auth)


def test_the_monthly_report_notes_the_days_met(tmp_path: Path) -> None:
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 China time
    with ChecksStore(tmp_path / CHECKS.file, at) as checks:
        checks.record_look("wang", at)
        assert not checks.record_look("wang", at + timedelta(minutes=5))  # one per 10 min
        checks.record_look("zhao", at + timedelta(hours=6))
        checks.record_look("wang", at + timedelta(days=1))
    since = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 3-02 00:00 China time
    notes = system_check_notes(tmp_path, since, since + timedelta(days=3) - timedelta(seconds=1))
    assert notes == ["系统检查（每日至少登录两次，间隔6小时）：1/3 天达到；未达到：03-03、03-04"]
