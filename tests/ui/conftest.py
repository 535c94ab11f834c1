"""An app with only the UI routes over a real reading store, signed in by test header; for the
browser tests, a real gateway process on simulated loggers and Debian's chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, expect

from firmware_sim.modbus_server import TcpSimServer
from gateway.core.clock import FakeClock
from gateway.settings import Settings, parse_settings
from gateway.storage.readings import ReadingStore
from gateway.web.keys import CLOCK, READINGS, SETTINGS, SettingsInForce
from gateway.web.ui import add_ui_routes
from tests.access_support import roles_from_header
from tests.e2e.support import GatewayProcess
from tests.ui.browser import chromium, simulator_for, write_clinic

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
PROBE = "208601"


@pytest.fixture(autouse=True, scope="session")
def patient_expectations() -> None:
    """Playwright's `expect` waits up to 30 s instead of 5: the pages wait on a real gateway
    process (a bind rewrites the configuration and reloads it) on a machine other work shares.
    A wait ends as soon as its condition holds, so a passing test is no slower."""
    expect.set_options(timeout=30_000)


def settings(data_dir: Path) -> Settings:
    data: dict[str, Any] = {
        "unit": {"code": "6101030203", "name": "测试门诊", "region_code": "610102"},
        "gateway": {"number": "10001", "data_dir": str(data_dir)},
        "buses": [{"name": "sim", "transport": "tcp", "host": "127.0.0.1", "port": 5020}],
        "fridges": [
            {
                "code": "F1",
                "name": "1号冰箱",
                "kind": "refrigerator",
                "compartments": [{"name": "冷藏", "kind": "refrigerated"}],
            }
        ],
        "probes": [
            {
                "code": PROBE,
                "bus": "sim",
                "device_id": 1,
                "profile": "rs485-th",
                "compartment": "F1/冷藏",
            }
        ],
    }
    return parse_settings(data, "ui test clinic")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ReadingStore]:
    with ReadingStore(tmp_path / "readings.sqlite3") as opened:
        yield opened


@pytest_asyncio.fixture
async def client(
    tmp_path: Path, store: ReadingStore
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The UI routes alone; the handlers read only settings, clock and store."""
    clock = FakeClock(T0)
    config = settings(tmp_path)
    app = web.Application(middlewares=[roles_from_header])
    app[SETTINGS] = SettingsInForce(config)
    app[CLOCK] = clock
    app[READINGS] = store
    add_ui_routes(app)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest_asyncio.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[GatewayProcess]:
    async with TcpSimServer(simulator_for(tmp_path), "127.0.0.1", 0) as simulated:
        running = await GatewayProcess.start(write_clinic(tmp_path, simulated.port))
        try:
            yield running
        finally:
            await running.stop()


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as opened:
        yield opened
