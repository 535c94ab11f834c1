"""The edge middleware: a project error that reaches it leaves as the refusal shape with its
code; aiohttp's own refusals of API paths get the same shape."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.auth.policy import ForbiddenError
from gateway.core.errors import ColdchainError, StoreError
from gateway.settings import load_settings
from gateway.web.edge import edge_middleware, quiet_client_faults
from gateway.web.keys import SETTINGS, SettingsInForce
from ledger.errors import ProblemCode, RecordError, problem
from ledger.holds import Hold, HoldError
from ledger.stock_errors import PackageToBeDiscardedError, StockError

CONFIG = Path(__file__).resolve().parents[2] / "config" / "demo.toml"

pytestmark = pytest.mark.asyncio

RAISED: dict[str, ColdchainError] = {
    "ledger": StockError.many([("batch_no", "unknown batch"), ("count", "below zero")]),
    "forbidden": ForbiddenError("vaccinator may not receive stock"),
    "store": StoreError("readings.sqlite3 cannot be written: disk full"),
    "other": ColdchainError("something the gateway refuses"),
    "record": RecordError.many(
        [
            problem(
                "dose_no",
                "dose 4 of a 3-dose schedule",
                ProblemCode.DOSE_BEYOND_SCHEDULE,
                dose_no=4,
                doses=3,
                vaccine="乙肝疫苗",
            ),
            problem("phone", "digits only (7 to 20)", ProblemCode.PHONE_INVALID),
        ]
    ),
    "hold": HoldError(
        "receiving",
        Hold(
            "F1/冷藏",
            "too_warm:F1/冷藏:208601@x",
            7,
            "too_warm",
            datetime(2026, 3, 2, 1, tzinfo=UTC),
        ),
    ),
    "discard": PackageToBeDiscardedError(
        "trace_code", "to be discarded, decided by wang", params={"person": "wang"}
    ),
}


async def _raise(request: web.Request) -> web.Response:
    raise RAISED[request.match_info["kind"]]


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application(middlewares=[edge_middleware])
    app[SETTINGS] = SettingsInForce(load_settings(CONFIG))
    app.router.add_get("/api/raise/{kind}", _raise)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("kind", "status", "field", "reason"),
    [
        ("ledger", 422, "batch_no", "unknown batch"),
        ("forbidden", 403, None, "vaccinator may not receive stock"),
        ("store", 503, None, "readings.sqlite3 cannot be written: disk full"),
        ("other", 422, None, "something the gateway refuses"),
    ],
)
async def test_project_errors_leave_with_their_code(
    client: TestClient[Any, Any], kind: str, status: int, field: str | None, reason: str
) -> None:
    response = await client.get(f"/api/raise/{kind}")
    body = await response.json()
    assert response.status == status
    assert body["code"] == RAISED[kind].code
    assert (body["field"], body["reason"]) == (field, reason)
    assert body["params"] == {}


async def test_a_refusal_of_several_field_problems_names_each_by_its_code(
    client: TestClient[Any, Any],
) -> None:
    body = await (await client.get("/api/raise/record")).json()
    assert (body["code"], body["field"]) == ("record_invalid", "dose_no")
    assert body["params"] == {"dose_no": 4, "doses": 3, "vaccine": "乙肝疫苗"}
    assert [(p["field"], p["code"], p["params"]) for p in body["problems"]] == [
        ("dose_no", "dose_beyond_schedule", {"dose_no": 4, "doses": 3, "vaccine": "乙肝疫苗"}),
        ("phone", "phone_invalid", {}),
    ]


async def test_ids_in_the_params_are_shown_by_name_with_the_id_beside(
    client: TestClient[Any, Any],
) -> None:
    hold = await (await client.get("/api/raise/hold")).json()
    assert hold["code"] == "stock_on_hold"
    assert (hold["field"], hold["params"]["compartment"]) == ("compartment", "1号医用冰箱 冷藏")
    assert hold["params"]["compartment_ref"] == "F1/冷藏"
    assert hold["params"]["since"] == "2026-03-02 09:00"
    assert hold["problems"][0]["params"]["compartment"] == "1号医用冰箱 冷藏"
    discard = await (await client.get("/api/raise/discard")).json()
    assert discard["params"] == {"person": "王芳", "person_ref": "wang"}


async def test_aiohttp_refusals_of_api_paths_get_the_shape(client: TestClient[Any, Any]) -> None:
    missing = await client.get("/api/nothing-here")
    assert missing.status == 404
    assert (await missing.json())["code"] == "not_found"
    wrong_method = await client.post("/api/raise/ledger")
    assert wrong_method.status == 405
    assert wrong_method.headers["Allow"] == "GET,HEAD"
    assert (await wrong_method.json())["code"] == "method_not_allowed"


async def test_a_request_aiohttp_cannot_parse_is_one_line_in_the_log(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    quiet_client_faults()
    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(b"GET /api/raise/other HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n")
    await writer.drain()
    assert (await reader.read(12)).startswith(b"HTTP/1.0 400")
    writer.close()
    await writer.wait_closed()
    logged = [record for record in caplog.records if record.name == "aiohttp.server"]
    assert logged, "aiohttp logged nothing"
    assert all(record.exc_info is None for record in logged)
    assert all(record.levelno == logging.WARNING for record in logged)
    assert "Invalid header value char" in logged[0].getMessage()
