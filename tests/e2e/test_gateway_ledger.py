"""A real gateway process with `[ledger]`: a serial barcode scanner on a socat pty at the
receiving desk puts packages into stock, a dose waiting in the ledger file is uploaded to the
provincial platform simulator over HTTP, and health and the station feed show both."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from firmware_sim.provincial_platform import ProvincialPlatform, serve
from firmware_sim.pty_pair import pty_pair
from firmware_sim.serial_devices import PtyWriter
from gateway.auth.policy import Role
from gateway.core.clock import SystemClock
from gateway.ledgers.book import open_ledger_book
from gateway.storage.ledger.stock_values import IN_STOCK
from tests.e2e.support import CLINIC_HEADER, GatewayProcess
from tests.ledger.conftest import HEPB, SHIPMENT, code
from tests.ledger.test_vaccinations_upload import ACTOR, ADULT, DOSE
from tests.web_support import api_token

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

CLINIC = (
    CLINIC_HEADER
    + """
[[scanners]]
name = "desk"
kind = "serial"
station = "receive-desk"
port = "{scanner}"

[station_accounts]
receive-desk = "wang.fang"

[ledger]
platform_url = "{platform_url}"
catalogue_files = ["shipment.json"]

[ledger.stations]
receive-desk = "receive"
vaccination-1 = "administer"
"""
)


@pytest_asyncio.fixture
async def platform() -> AsyncIterator[tuple[ProvincialPlatform, str]]:
    fake = ProvincialPlatform()
    runner, port = await serve(fake)
    try:
        yield fake, f"http://127.0.0.1:{port}/upload"
    finally:
        await runner.cleanup()


def seed_ledger(data_dir: Path, platform_url: str) -> None:
    """A dose recorded while the gateway was off: it waits in the upload queue."""
    data_dir.mkdir(parents=True)
    shipment = json.dumps(SHIPMENT)
    (data_dir / "shipment.json").write_text(shipment, encoding="utf-8")
    book = open_ledger_book(
        data_dir, SystemClock(), unit_code="6101030203", platform_url=platform_url
    )
    try:
        book.catalogue.import_json(shipment)
        book.stock.receive(code(HEPB, 1), event_id="r1", actor="王芳")
        book.vaccinations.register(ADULT, actor=ACTOR)
        book.vaccinations.record_dose(
            archive_no=ADULT.archive_no, scan=code(HEPB, 1), event_id="d1", dose_no=1, **DOSE
        )
    finally:
        book.close()


async def test_scanner_and_upload_through_a_real_gateway(
    tmp_path: Path, platform: tuple[ProvincialPlatform, str]
) -> None:
    fake, url = platform
    data_dir = tmp_path / "data"
    seed_ledger(data_dir, url)
    (tmp_path / "scanner").mkdir()
    async with pty_pair(tmp_path / "scanner") as scanner:
        config = tmp_path / "clinic.toml"
        config.write_text(
            CLINIC.format(data_dir=data_dir, scanner=scanner.b, platform_url=url),
            encoding="utf-8",
        )
        token = api_token(data_dir, Role.MANAGER, name="wang.fang")
        gateway = await GatewayProcess.start(config, token=token)
        try:
            writer = PtyWriter(scanner.a)
            try:
                writer.write(code(HEPB, 2).encode() + b"\r\n")
                writer.write(code(HEPB, 2).encode() + b"\r\n")  # scanned twice: one effect
                feed: object = None
                for _ in range(100):
                    feed = await gateway.get_json("/api/ledger/stations/receive-desk/feed")
                    assert isinstance(feed, dict), feed
                    if len(feed["results"]) == 2 and ("d1", 1) in fake.accepted:
                        break
                    await asyncio.sleep(0.1)
            finally:
                writer.close()
            assert isinstance(feed, dict)
            assert [(r["ok"], r["field"]) for r in feed["results"]] == [
                (False, "trace_code"),
                (True, None),
            ]
            assert feed["results"][1]["actor"] == "wang.fang", "the station's account acted"
            assert ("d1", 1) in fake.accepted, "the queued dose went to the platform"
            health = await gateway.get_json("/api/health")
            assert isinstance(health, dict)
            ledger = health["ledger"]
            assert ledger["queue_length"] == 0
            assert ledger["last_upload"]["outcome"] == "HTTP 200"
            assert ledger["records_at_risk"] == 0
            assert ledger["catalogue_problems"] == []
            assert (ledger["scans"]["accepted"], ledger["scans"]["refused"]) == (1, 1)
            assert health["excursions"] == {"recorded": 0, "last_error": None}
        finally:
            assert await gateway.terminate(within_s=5.0) == 0
    book = open_ledger_book(data_dir, SystemClock(), unit_code="6101030203", platform_url=url)
    try:
        assert book.stock.state(code(HEPB, 2)).state == IN_STOCK
        actors = book.db.conn.execute(
            "SELECT actor FROM stock_events WHERE event_id LIKE 'scan:%'"
        ).fetchall()
        assert actors == [("wang.fang",)]
    finally:
        book.close()
