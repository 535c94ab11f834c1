"""Helpers of the ledger route tests: a LedgerBook on a temp dir with the test shipment
imported, served by an app with the test sign-in middleware; row counts; refusal checks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from gateway.auth.policy import Role
from gateway.core.clock import FakeClock
from gateway.ledgers.book import LedgerBook, open_ledger_book
from gateway.web.routes.ledger import add_ledger_routes
from tests.access_support import as_roles, roles_from_header
from tests.ledger.conftest import HEPB, SHIPMENT, UNIT, UNITS_CSV, code

Client = TestClient[web.Request, web.Application]
MANAGER = as_roles(Role.MANAGER, name="wang")
VACCINATOR = as_roles(Role.VACCINATOR, name="li")
HEAD = as_roles(Role.HEAD, name="zhao")
COUNTY = as_roles(Role.COUNTY, name="county")
ADMIN = as_roles(Role.ADMIN, name="admin")

PERSON: dict[str, Any] = {
    "archive_no": "610103202600001", "name": "张小三", "sex": "2", "birth_date": "1949-12-31",
    "id_number": "11010519491231002X", "phone": "13812345678", "address": "西安市新城区西一路1号",
    "crowd_category": "29",
    "household_county": "610102",
    "current_area": "610102001",
    "marital_status": "20",
    "occupation": "16",
}  # fmt: skip
DOSE: dict[str, Any] = {
    "archive_no": PERSON["archive_no"], "manufacturer_code": "M01", "site_code": "1",
    "vaccination_type": "01", "vaccine_attribute": "01",
}  # fmt: skip
TABLES = (
    "products", "batches", "trace_codes", "stock_events", "approvals", "approval_decisions",
    "recipients", "record_versions", "upload_queue",
)  # fmt: skip


def open_book(folder: Path, clock: FakeClock, platform_url: str) -> LedgerBook:
    book = open_ledger_book(folder, clock, unit_code=UNIT, platform_url=platform_url)
    book.catalogue.import_json(json.dumps(SHIPMENT))
    book.stock.units.import_csv(UNITS_CSV)
    return book


@asynccontextmanager
async def served(
    folder: Path, clock: FakeClock, platform_url: str = "http://127.0.0.1:9/upload"
) -> AsyncIterator[tuple[LedgerBook, Client]]:
    """A book on `folder` with the test shipment, and a client of an app serving its routes."""
    book = open_ledger_book(folder, clock, unit_code=UNIT, platform_url=platform_url)
    try:
        book.catalogue.import_json(json.dumps(SHIPMENT))
        book.stock.units.import_csv(UNITS_CSV)
        app = web.Application(middlewares=[roles_from_header])
        add_ledger_routes(app, book)
        async with TestClient(TestServer(app)) as client:
            yield book, client
    finally:
        book.close()


def counts(book: LedgerBook) -> dict[str, int]:
    """Rows of every ledger table: a refusal must leave all of them as they were."""
    return {
        table: book.db.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in TABLES
    }


async def refused(
    response: ClientResponse, status: int, field: str, code: str | None = None
) -> str:
    """The reason of a refusal that must have `status`, name `field` and, when given, have
    `code` (its first problem too)."""
    body = await response.json()
    assert response.status == status, body
    assert body["field"] == field, body
    if code is not None:
        assert (body["code"], body["problems"][0]["field"]) == (code, field), body
    assert body["reason"] in body["error"]
    reason = body["reason"]
    assert isinstance(reason, str)
    assert reason
    return reason


async def ok(response: ClientResponse, status: int = 200) -> Any:
    body = await response.json()
    assert response.status == status, body
    return body


async def stock_in(client: Client, *numbers: int, product: str = HEPB) -> None:
    for n in numbers:
        scan = {"scan": code(product, n), "event_id": f"r{product}{n}"}
        await ok(await client.post("/api/ledger/stock/receive", json=scan, headers=MANAGER), 201)


def later(book: LedgerBook, *, days: int) -> None:
    """Move the book's fake wall clock `days` ahead (a later visit of the same person)."""
    assert isinstance(book.clock, FakeClock)
    book.clock.jump_wall(timedelta(days=days))


async def registered(client: Client, person: dict[str, Any] | None = None) -> None:
    body = person or PERSON
    await ok(await client.post("/api/ledger/recipients", json=body, headers=VACCINATOR), 201)


async def give(
    client: Client, n: int, dose_no: int, event_id: str, archive_no: str = PERSON["archive_no"]
) -> ClientResponse:
    """Record dose `dose_no` from package `n` of the hepatitis B batch, as the vaccinator."""
    body = {**DOSE, "scan": code(HEPB, n), "event_id": event_id, "dose_no": dose_no,
            "archive_no": archive_no}  # fmt: skip
    return await client.post("/api/ledger/doses", json=body, headers=VACCINATOR)
