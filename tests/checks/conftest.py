"""A small app with the check routes over real stores, a fake clock, and roles by header."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.core.clock import FakeClock
from gateway.settings import Settings, parse_settings
from gateway.storage.checks import ChecksStore
from gateway.storage.readings import ReadingStore
from gateway.storage.registry import CHECKS
from gateway.web.routes.checks import add_check_routes
from gateway.web.routes.checks_http import Checks
from tests.access_support import roles_from_header

#: 2026-11-02 08:00 in China (UTC+8).
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)

CLINIC = {
    "unit": {"code": "6101030203", "name": "测试门诊", "region_code": "610102"},
    "gateway": {"number": "10001", "data_dir": "unused"},
    "buses": [{"name": "rs485", "transport": "tcp", "host": "127.0.0.1", "port": 5020}],
    "fridges": [
        {
            "code": "F1",
            "name": "1号冰箱",
            "kind": "refrigerator",
            "compartments": [
                {"name": "冷藏", "kind": "refrigerated"},
                {"name": "冷冻", "kind": "frozen"},
            ],
        }
    ],
    "probes": [
        {
            "code": "208601",
            "bus": "rs485",
            "device_id": 1,
            "channel": 0,
            "profile": "logger-8ch",
            "compartment": "F1/冷藏",
        },
        {
            "code": "208602",
            "bus": "rs485",
            "device_id": 1,
            "channel": 1,
            "profile": "logger-8ch",
            "compartment": "F1/冷冻",
        },
    ],
}

Client = TestClient[web.Request, web.Application]


@dataclass
class Harness:
    clock: FakeClock
    settings: Settings
    readings: ReadingStore
    checks: ChecksStore


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    clock = FakeClock(T0)
    settings = parse_settings(CLINIC, "test")
    with (
        ReadingStore(tmp_path / "readings.sqlite3") as readings,
        ChecksStore(tmp_path / CHECKS.file, clock.now()) as checks,
    ):
        yield Harness(clock, settings, readings, checks)


@pytest_asyncio.fixture
async def client(harness: Harness) -> AsyncIterator[Client]:
    app = web.Application(middlewares=[roles_from_header])
    add_check_routes(app, Checks(harness.checks, harness.settings, harness.readings, harness.clock))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
