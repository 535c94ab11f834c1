"""Circulation uploads: receipts, issues, returns and scraps go to the provincial platform, one
message and one XSD per kind; the simulated platform validates against the schemas and refuses
what the national platform refuses, with its messages; feedback fetched later, shown by kind,
corrected messages resent.

Seed 003: "按照标准要求完成所有疫苗流通、使用等全部数据上传". Seed 000 (上传失败原因) lists the
platform's circulation refusals: "出库单位编码值不在字典中", "出库单位编码不能为空",
"疫苗报废原因代码不能为空", "xml格式错误".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from firmware_sim.provincial_platform import ProvincialPlatform, serve
from gateway.core.clock import FakeClock
from ledger import circulation_xml
from ledger.circulation_xml import CirculationEvent, build, build_validated, kind_of, validate
from ledger.errors import UploadError
from tests.ledger.conftest import COUNTY_CDC, HEPB, HEPB_BATCH, UNIT, VILLAGE, code
from tests.ledger.test_ledger_routes_support import (
    COUNTY,
    MANAGER,
    give,
    ok,
    refused,
    registered,
    served,
    stock_in,
)

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def platform() -> AsyncIterator[tuple[ProvincialPlatform, str]]:
    fake = ProvincialPlatform()
    runner, port = await serve(fake)
    try:
        yield fake, f"http://127.0.0.1:{port}/upload"
    finally:
        await runner.cleanup()


def event(kind: str, **changes: Any) -> CirculationEvent:
    fields: dict[str, Any] = {
        "event_id": "e1", "version": 1, "kind": kind, "unit_code": UNIT,
        "trace_code": code(HEPB, 1), "vaccine_code": "0201", "manufacturer_code": "M01",
        "batch_no": HEPB_BATCH, "expiry_date": date(2027, 11, 30), "packages": 1, "doses": 1,
        "at": FakeClock().now(), "operator": "wang",
        "to_unit": VILLAGE if kind in {"issue", "return"} else "",
        "reason_code": "03" if kind == "scrap" else "",
        "approved_by": "county" if kind in {"return", "scrap"} else "", "reason": "",
    }  # fmt: skip
    return CirculationEvent(**(fields | changes))


async def test_one_schema_per_message_validated_before_sending() -> None:
    """Seed 004: circulation data exchanged per trace code; each message has its own XSD."""
    for kind in circulation_xml.KINDS:
        document = build_validated(kind, [event(kind)])
        assert kind_of(document) == kind
        assert (Path(circulation_xml.SCHEMA_DIR) / f"circulation_{kind}.xsd").is_file()
    with pytest.raises(UploadError) as caught:
        build_validated("issue", [event("issue", batch_no="张三")])
    assert "BatchNo" in caught.value.field
    with pytest.raises(UploadError, match="not a receive"):
        build("receive", [event("scrap")])
    with pytest.raises(UploadError):
        validate("scrap", build("issue", [event("issue")]))
    with pytest.raises(UploadError, match="no circulation message"):
        kind_of(b"<VaccinationRecords/>")


async def test_the_platform_refuses_what_the_national_platform_refuses(
    platform: tuple[ProvincialPlatform, str],
) -> None:
    """Seed 000: "出库单位编码不能为空" (11 times), "出库单位编码值不在字典中",
    "疫苗报废原因代码不能为空" (36 times), "xml格式错误" (94 times), "疫苗名称代码值不在字典中"."""
    fake, url = platform
    fake.units = frozenset({COUNTY_CDC})
    cases = [
        ("issue", event("issue", unit_code=""), "出库单位编码不能为空"),
        ("return", event("return"), "出库单位编码值不在字典中"),
        ("scrap", event("scrap", reason_code=""), "疫苗报废原因代码不能为空"),
        ("receive", event("receive", vaccine_code="9999"), "疫苗名称代码值不在字典中"),
        ("receive", event("receive", manufacturer_code="M13"), "疫苗生产企业和疫苗不匹配"),
        ("issue", event("issue", unit_code=COUNTY_CDC), ""),
    ]
    async with aiohttp.ClientSession() as session:
        for kind, item, message in cases:
            async with session.post(url, data=build_validated(kind, [item])) as response:
                answer = await response.json()
            assert answer["results"] == [{"record_id": "e1", "version": 1,
                                          "ok": not message, "error": message}]  # fmt: skip
        broken = build("scrap", [event("scrap")]).replace(b"<Packages>1", b"<Packages>x")
        async with session.post(url, data=broken) as response:
            assert (response.status, (await response.json())["error"]) == (400, "xml格式错误")


async def test_every_movement_goes_up_and_a_rejected_one_is_corrected_and_resent(
    tmp_path: Path, clock: FakeClock, platform: tuple[ProvincialPlatform, str]
) -> None:
    """Seed 003: "完成所有疫苗流通、使用等全部数据上传": receipts, issues, returns, scraps."""
    fake, url = platform
    fake.units = frozenset({COUNTY_CDC})  # the platform does not know this clinic yet
    async with served(tmp_path, clock, url) as (book, client), aiohttp.ClientSession() as session:
        await stock_in(client, 1, 2, 3, 4)
        issue = {"scan": code(HEPB, 1), "event_id": "i1", "to_unit": VILLAGE}
        await ok(await client.post("/api/ledger/stock/issue", json=issue, headers=MANAGER), 201)
        requests = "/api/ledger/stock/requests"
        for ask in (
            {"kind": "return", "scans": [code(HEPB, 2)], "approval_id": "ap1", "reason": "调回",
             "to_unit": COUNTY_CDC},
            {"kind": "scrap", "scans": [code(HEPB, 3)], "approval_id": "ap2", "reason": "破损",
             "reason_code": "03"},
        ):  # fmt: skip
            await ok(await client.post(requests, json=ask, headers=MANAGER), 201)
            decision = f"{requests}/{ask['approval_id']}/decision"
            await ok(await client.post(decision, json={"approve": True}, headers=COUNTY))
        outcome = await book.uploader.send_due(session)
        assert (outcome.sent, outcome.accepted, outcome.rejected) == (7, 5, 2)
        kinds = sorted(fields["kind"] for fields in fake.moved.values())
        assert kinds == ["receive"] * 4 + ["scrap"]
        scrap = fake.moved[(f"ap2:{code(HEPB, 3)}", 1)]
        assert (scrap["ScrapReasonCode"], scrap["ApprovedBy"], scrap["Reason"]) == (
            "03", "county", "破损")  # fmt: skip
        shown = await ok(await client.get("/api/ledger/upload/rejections", headers=COUNTY))
        assert shown["by_kind"] == {"not_in_dictionary": 2}
        assert shown["by_type"] == {"issue": 1, "return": 1}
        assert {(r["record_id"], r["message"]) for r in shown["rejections"]} == {
            ("i1", "出库单位编码值不在字典中"),
            (f"ap1:{code(HEPB, 2)}", "出库单位编码值不在字典中"),
        }

        fake.units = fake.units | {UNIT}  # the platform's dictionary is fixed: send again
        fix = "/api/ledger/upload/circulation/i1/correction"
        bad = await client.post(fix, json={"to_unit": "abc"}, headers=MANAGER)
        await refused(bad, 422, "to_unit")
        fixed = await ok(await client.post(fix, json={}, headers=MANAGER), 201)
        assert fixed == {"event_id": "i1", "version": 2, "kind": "issue"}
        again = await client.post(fix, json={}, headers=MANAGER)
        reason = await refused(again, 422, "event_id")
        assert "pending: only a rejected message is corrected" in reason
        returned = f"/api/ledger/upload/circulation/ap1:{code(HEPB, 2)}/correction"
        await ok(await client.post(returned, json={}, headers=MANAGER), 201)
        outcome = await book.uploader.send_due(session)
        assert (outcome.sent, outcome.accepted) == (2, 2)
        issued = fake.moved[("i1", 2)]
        assert (issued["OutUnitCode"], issued["InUnitCode"]) == (UNIT, VILLAGE)
        shown = await ok(await client.get("/api/ledger/upload/rejections", headers=COUNTY))
        assert shown["rejections"] == []


async def test_feedback_fetched_later_is_applied_and_shown_by_kind(
    tmp_path: Path, clock: FakeClock, platform: tuple[ProvincialPlatform, str]
) -> None:
    """Feedback from the platform fetched (checks it makes after receiving), shown by kind."""
    fake, url = platform
    async with served(tmp_path, clock, url) as (book, client), aiohttp.ClientSession() as session:
        await stock_in(client, 1)
        await registered(client)
        await ok(await give(client, 1, 1, "d1"), 201)
        fake.reject_later("d1", "受种者档案更新单位编码值超出允许范围")
        fake.reject_later(f"r{HEPB}1", "出库单位编码值不在字典中")
        outcome = await book.uploader.send_due(session)
        assert (outcome.sent, outcome.accepted) == (2, 2)
        assert await book.uploader.fetch_feedback(session) == (2, 2)
        assert await book.uploader.fetch_feedback(session) == (0, 0)  # the cursor moved on
        shown = await ok(await client.get("/api/ledger/upload/rejections", headers=COUNTY))
        assert shown["by_kind"] == {"not_in_dictionary": 1, "out_of_range": 1}
        assert shown["by_type"] == {"dose": 1, "receive": 1}
        queue = await ok(await client.get("/api/ledger/upload/queue", headers=COUNTY))
        assert queue["circulation"] == {"rejected": 1}
