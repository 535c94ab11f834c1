"""The alarm service with its real channels against the fake WeCom, WeChat OA and Twilio
servers on loopback: an outage queues, the return delivers, an invalid number fails visibly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from alerts.outbox import EntryState
from firmware_sim.twilio_api import FakeTwilio
from firmware_sim.wechat_api import FakeWechatOA, FakeWecom
from gateway.auth.policy import Role
from gateway.core.clock import FakeClock
from gateway.web.routes.alarms import add_alarm_routes
from tests.access_support import as_roles, roles_from_header
from tests.alarms.conftest import Harness, alerts_section, clinic, wait_until

pytestmark = pytest.mark.asyncio

SID = "AC" + "0" * 32
TOKEN = "twilio-auth-token"
APP_ID = "wx0123456789abcdef"


@pytest_asyncio.fixture
async def servers() -> AsyncIterator[tuple[FakeWecom, FakeWechatOA, FakeTwilio]]:
    async with (
        FakeWecom("ww-corp", "corp-secret", "robot-key", users={"WangFang"}) as wecom,
        FakeWechatOA(APP_ID, "app-secret") as oa,
        FakeTwilio(SID, TOKEN) as twilio,
    ):
        yield wecom, oa, twilio


def channels(wecom: FakeWecom, oa: FakeWechatOA, twilio: FakeTwilio) -> dict[str, Any]:
    return {
        "wecom_robot": {"key": "robot-key", "base_url": wecom.base_url},
        "wecom_app": {
            "corp_id": "ww-corp",
            "corp_secret": "corp-secret",
            "agent_id": 1000002,
            "base_url": wecom.base_url,
        },
        "wechat_oa": {
            "app_id": APP_ID,
            "app_secret": "app-secret",
            "template_id": "TPL-1",
            "base_url": oa.base_url,
        },
        "twilio": {
            "account_sid": SID,
            "auth_token": TOKEN,
            "from_number": "+15005550006",
            "base_url": twilio.base_url,
            "voice": False,
        },
    }


async def test_outage_queues_then_delivers_and_a_bad_number_fails_visibly(
    tmp_path: Path,
    clock: FakeClock,
    servers: tuple[FakeWecom, FakeWechatOA, FakeTwilio],
) -> None:
    wecom, oa, twilio = servers
    twilio.invalid_numbers.add("+8613800000001")  # wang's number
    settings = clinic(tmp_path / "data", alerts_section(channels(wecom, oa, twilio)))
    harness = Harness(settings, clock, real_channels=True)
    await harness.start()
    try:
        store = harness.alarms.store
        async with wecom.outage():
            await harness.minutes(16, 9.5)  # tier 1 at minute 15 while WeCom is unreachable
            await wait_until(
                lambda: twilio.messages == [] and store.outbox_counts()["failed"] == 1,
                "sms refused",
            )
            await harness.minutes(120, 9.5)  # two hours of outage: tiers 2 and 3, reminders
            counts = store.outbox_counts()
            assert counts["pending"] >= 2
            assert wecom.robot_messages == []
            assert wecom.app_messages == []
            # One probe per backoff period (15 s doubling to 10 min) and channel, not one
            # request per queued message: about 17 in two hours.
            for kind in ("wecom_robot", "wecom_app"):
                rows = [r for r in store.outbox_all() if r.entry.channel == kind]
                assert 10 <= sum(r.entry.attempts for r in rows) <= 20
            # OA (li) and SMS (li, zhao) were up all along.
            assert oa.templates
            assert twilio.messages
        # The channel's next probe is at most 10 min (max_retry_s + jitter) after the return.
        await harness.minutes(13, 9.5)
        await wait_until(
            lambda: store.outbox_counts()["pending"] == 0, "the queue to drain", timeout_s=10
        )
        robot = [r for r in store.outbox_all() if str(r.entry.channel) == "wecom_robot"]
        assert {r.entry.state for r in robot} == {EntryState.DELIVERED, EntryState.SUPERSEDED}
        delivered = [r for r in robot if r.entry.state is EntryState.DELIVERED]
        assert len(wecom.robot_messages) == len(delivered)
        # After the outage each person got the current message, not the backlog.
        assert len(delivered) <= 3 + 3  # at most one queued + one new per person
        assert wecom.app_messages[-1]["touser"] == "WangFang"

        app = web.Application(middlewares=[roles_from_header])
        add_alarm_routes(app, harness.alarms)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/api/alarms", headers=as_roles(Role.COUNTY))
            assert response.status == 200
            body = await response.json()
        (alarm,) = body["alarms"]
        failed = [n for n in alarm["notifications"] if n["state"] == "failed"]
        # Every message to wang by SMS (opening and reminders) failed for good, each visible.
        assert len(failed) >= 5
        assert {(n["person"], n["channel"]) for n in failed} == {("wang", "sms")}
        assert all("21211" in n["detail"] for n in failed)
        assert failed[0]["attempt_log"][-1]["outcome"] == "failed_permanently"
        assert alarm["undelivered"] == len(failed)
        assert body["undelivered"] == len(failed)
        assert harness.alarms.health()["outbox_failed"] == len(failed)
    finally:
        await harness.stop()
