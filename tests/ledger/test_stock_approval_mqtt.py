"""The upper level approves over the county's MQTT command channel (a real mosquitto): a second
county account answers `approve` while the first signed in to the gateway; the clinic's own head
as the command account is refused.

Seed 002, 二.(三).2: "出库至平级、退回上级时均需要上级机构审核通过"; 二.(三).3: "报废疫苗时，均需要
在系统中填写报废申请，经上级审核同意后，系统会自动完成报废核算。"
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import aiomqtt
import pytest

from gateway.auth.acting import Acting
from gateway.auth.policy import Role
from gateway.core.clock import FakeClock, SystemClock
from gateway.forward.mqtt import MqttForwarder
from gateway.forward.mqtt_commands import county_commands
from gateway.forward.settings import MqttSettings
from gateway.storage.audit_log import AuditLog
from gateway.storage.readings import ReadingStore
from gateway.storage.registry import AUDIT
from tests.access_support import as_roles
from tests.forward.support import BASE_TOPIC as BASE
from tests.forward.support import IDENTITY, wait_until
from tests.ledger.conftest import COUNTY_CDC, HEPB, code
from tests.ledger.test_ledger_routes_support import MANAGER, ok, served, stock_in
from tests.servers import Mosquitto, Subscriber
from tests.web_support import add_account, open_accounts

pytestmark = pytest.mark.asyncio


async def never_reload() -> str:
    raise AssertionError("no reload in this test")


async def test_a_second_county_account_approves_over_mqtt_and_a_clinic_head_cannot(
    tmp_path: Path, clock: FakeClock, mosquitto: Mosquitto
) -> None:
    accounts = open_accounts(tmp_path)
    add_account(accounts, "county-web", Role.COUNTY)
    add_account(accounts, "county-mqtt", Role.COUNTY)
    add_account(accounts, "head", Role.HEAD)
    audit = AuditLog(tmp_path / AUDIT.file, SystemClock())
    store = ReadingStore(tmp_path / "readings.sqlite3")
    acting = Acting(accounts, {}, command_account="county-mqtt")
    settings = MqttSettings.model_validate(
        {"url": mosquitto.url, "retry_initial_s": 0.05, "retry_max_s": 0.3, "idle_poll_s": 0.2}
    )
    async with served(tmp_path / "ledger", clock) as (book, client):
        await stock_in(client, 1, 2, 3)
        url = "/api/ledger/stock/requests"
        asks = [
            {"kind": "return", "scans": [code(HEPB, 1)], "approval_id": "ap1", "reason": "调回",
             "to_unit": COUNTY_CDC},
            {"kind": "scrap", "scans": [code(HEPB, 2)], "approval_id": "ap2", "reason": "破损",
             "reason_code": "03"},
            {"kind": "scrap", "scans": [code(HEPB, 3)], "approval_id": "ap3", "reason": "破损",
             "reason_code": "03"},
        ]  # fmt: skip
        for ask in asks:
            await ok(await client.post(url, json=ask, headers=MANAGER), 201)
        web_county = as_roles(Role.COUNTY, name="county-web")
        await ok(await client.post(f"{url}/ap1/decision", json={"approve": True},
                                   headers=web_county))  # fmt: skip

        commands = county_commands(acting, None, never_reload, audit, ledger=book)
        forwarder = MqttForwarder(settings, IDENTITY, store, SystemClock(), commands=commands)
        task = asyncio.create_task(forwarder.run())
        try:
            await wait_until(lambda: forwarder.connected)
            async with (
                Subscriber(mosquitto, f"{BASE}/reply/#") as replies,
                aiomqtt.Client("127.0.0.1", mosquitto.port) as county,
            ):
                topic = f"{BASE}/cmd/approve"
                await county.publish(topic, json.dumps({"id": "1", "approval_id": "ap2",
                                                        "approve": True}), qos=1)  # fmt: skip
                await wait_until(lambda: len(replies.payloads("/reply/approve")) == 1)
                acting.command_account = "head"
                await county.publish(topic, json.dumps({"id": "2", "approval_id": "ap3",
                                                        "approve": True}), qos=1)  # fmt: skip
                await wait_until(lambda: len(replies.payloads("/reply/approve")) == 2)
                acting.command_account = "county-mqtt"
                await county.publish(topic, json.dumps({"id": "3", "approval_id": "ap2",
                                                        "approve": False}), qos=1)  # fmt: skip
                await county.publish(topic, json.dumps({"id": "4", "approval": "ap3"}), qos=1)
                await wait_until(lambda: len(replies.payloads("/reply/approve")) == 4)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        approved, by_head, flipped, malformed = replies.payloads("/reply/approve")
        assert approved == {
            "id": "1", "command": "approve", "ok": True, "account": "county-mqtt",
            "approval_id": "ap2", "decision": "approved",
            "events": [{"event_id": f"ap2:{code(HEPB, 2)}", "kind": "scrap",
                        "code": code(HEPB, 2)}],
        }  # fmt: skip
        assert (by_head["ok"], by_head["code"]) == (False, "forbidden")
        assert "head (head) may not stock_approve; this needs one of: county" in by_head["error"]
        assert (flipped["ok"], flipped["code"]) == (False, "event_id_conflict")
        assert (malformed["ok"], malformed["code"]) == (False, "gateway_error")
        decided = await ok(await client.get(url, headers=MANAGER))
        by_id = {r["approval_id"]: (r["decision"], r["decided_by"]) for r in decided["requests"]}
        assert by_id == {
            "ap1": ("approved", "county-web"),
            "ap2": ("approved", "county-mqtt"),
            "ap3": (None, None),
        }
        assert book.stock.state(code(HEPB, 3)).state == "in_stock"
    audited = [(e.path, e.user, e.status) for e in reversed(audit.entries())]
    assert audited == [
        ("cmd/approve", "county-mqtt", 200),
        ("cmd/approve", "head", 403),
        ("cmd/approve", "county-mqtt", 422),
        ("cmd/approve", "county-mqtt", 422),
    ]
    for opened in (audit, store, accounts):
        opened.close()
