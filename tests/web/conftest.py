"""The whole gateway app as `build_app` makes it (alarms, ledger, scans, pages, accounts), over
real stores in a temp folder, on a FakeClock; nothing runs but the HTTP handlers and, for each
committed scan, the scan listeners (alarm presence, the ledger stations), as in the gateway."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.alarms.engine import AlarmService
from gateway.alarms.presence import presence_listener
from gateway.auth.acting import Acting
from gateway.auth.policy import Role
from gateway.core.clock import FakeClock
from gateway.ledgers.book import LedgerBook, open_configured
from gateway.ledgers.excursion_service import open_excursions
from gateway.ledgers.tasks import LedgerJobs
from gateway.readings.clock_sync import ClockSync
from gateway.readings.recorder import Recorder
from gateway.readings.sources import Sources, open_sources
from gateway.storage.accounts import AccountStore
from gateway.storage.audit_log import AuditLog
from gateway.storage.checks import ChecksStore
from gateway.storage.readings import ReadingStore
from gateway.storage.registry import CHECKS
from gateway.web.app import build_app
from gateway.web.keys import SettingsInForce
from gateway.web.routes.checks_http import Checks
from ledger.settings import LedgerSettings
from tests.alarms.conftest import alerts_section, clinic
from tests.web_support import TEST_PASSWORD, add_account, close_auth, idle_drivers, open_auth

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
# One account per role, named after it; the alarm tiers' people answer as wang, li, zhao.
PEOPLE = {Role.MANAGER: "wang", Role.HEAD: "li", Role.UNIT_HEAD: "zhao"}


@dataclass
class Site:
    app: web.Application
    clock: FakeClock
    accounts: AccountStore
    audit: AuditLog
    data_dir: Path
    acting: Acting
    ledger: LedgerBook
    alarms: AlarmService
    ledger_jobs: LedgerJobs
    sources: Sources


@contextlib.contextmanager
def full_app(
    data_dir: Path, clock: FakeClock, ledger_settings: LedgerSettings | None = None
) -> Iterator[Site]:
    """`ledger_settings` (stations...) in place of a ledger without stations."""
    ledger_settings = ledger_settings or LedgerSettings(platform_url="http://127.0.0.1:9/upload")
    settings = clinic(data_dir, alerts_section()).model_copy(update={"ledger": ledger_settings})
    with contextlib.ExitStack() as resources:
        auth = open_auth(data_dir, clock)
        resources.callback(close_auth, auth)
        acting = Acting(auth.accounts, settings.station_accounts)
        store = resources.enter_context(ReadingStore(data_dir / "readings.sqlite3"))
        recorder = Recorder(store, clock, settings.store)
        alarms = resources.enter_context(
            AlarmService(settings, clock, data_dir, recorder, readings=store)
        )
        assert settings.ledger is not None
        ledger = open_configured(settings.ledger, data_dir, clock, unit_code=settings.unit.code)
        resources.callback(ledger.close)
        jobs = LedgerJobs(ledger, settings, clock, alarms, acting.for_scan)
        for _, job in jobs.tasks():  # never run: only the routes are wanted
            job.close()
        excursions = open_excursions(
            settings, clock, ledger, store, alarms=alarms, config_path=None
        )
        sync = ClockSync(clock, lambda: True)
        listeners = [presence_listener(alarms, settings.unit.code, acting.for_scan), jobs.scans]
        sources = open_sources(settings, sync, resources, scan_listeners=listeners)
        app = build_app(
            settings=SettingsInForce(settings),
            clock=clock,
            store=store,
            recorder=recorder,
            drivers=idle_drivers(settings, clock),
            sources=sources,
            clock_sync=sync,
            auth=auth,
            started_at=T0,
            checks=Checks(
                resources.enter_context(ChecksStore(data_dir / CHECKS.file, T0)),
                settings,
                store,
                clock,
            ),
            alarms=alarms,
            ledger=ledger,
            ledger_jobs=jobs,
            excursions=excursions,
        )
        yield Site(
            app, clock, auth.accounts, auth.audit, data_dir, acting, ledger, alarms, jobs, sources
        )


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with full_app(tmp_path / "data", FakeClock(T0)) as opened:
        for role in Role:
            add_account(opened.accounts, role.value, role, person=PEOPLE.get(role))
        yield opened


@pytest_asyncio.fixture
async def client(site: Site) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(site.app, host="127.0.0.1", port=0)) as test_client:
        yield test_client


async def sign_in(
    client: TestClient[web.Request, web.Application], name: str, password: str = TEST_PASSWORD
) -> str:
    """Sign in by JSON (as a fresh visitor); the client keeps the cookies. Returns the CSRF
    token."""
    client.session.cookie_jar.clear()
    response = await client.post("/api/session", json={"name": name, "password": password})
    assert response.status == 200, await response.text()
    token = (await response.json())["csrf_token"]
    assert isinstance(token, str)
    return token
