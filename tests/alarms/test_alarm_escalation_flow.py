"""The alarm service on a FakeClock with the real recorder and stores: tiers at the right
times, repeats, acknowledgement, clear, close, and silence after the close."""

from __future__ import annotations

import logging

import pytest

from alerts.outbox import EntryState
from tests.alarms.conftest import Harness

pytestmark = pytest.mark.asyncio

WARM = 9.5


async def test_tiers_repeats_ack_clear_close(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="coldchain.alarms")
    await harness.minutes(15, WARM)
    # Raised by the reading at minute 15 (too warm for the 15-min hold-off): tier 1 once.
    await harness.minutes(1, WARM)
    assert harness.robot_log() == [(15.0, "wang", "【冷链报警】一级（疫苗管理员）")]
    console = [r.getMessage() for r in caplog.records if r.name == "coldchain.alarms"]
    assert len(console) == 1
    assert console[0].startswith("alarm to wang: 【冷链报警】一级")

    await harness.minutes(60, WARM)  # to minute 76
    assert [(m, p, t.split("】")[0][1:]) for m, p, t in harness.robot_log()] == [
        (15.0, "wang", "冷链报警"),
        (30.0, "wang", "冷链报警第 1 轮提醒"),
        (45.0, "li", "冷链报警升级"),
        (45.0, "wang", "冷链报警第 2 轮提醒"),
        (60.0, "li", "冷链报警第 3 轮提醒"),  # reminders go by tier, highest first
        (60.0, "wang", "冷链报警第 3 轮提醒"),
        (75.0, "zhao", "冷链报警升级"),
        (75.0, "li", "冷链报警第 4 轮提醒"),
        (75.0, "wang", "冷链报警第 4 轮提醒"),
    ]

    service = harness.alarms
    view = service.view()
    (alarm,) = view["alarms"]
    assert alarm["no"] == 1
    assert alarm["status"] == "active"
    assert alarm["notified_tiers"].keys() == {"1", "2", "3"}
    service.acknowledge("1", "wang", "web")
    await harness.minutes(15, WARM)  # minute 91: wang no longer reminded, li and zhao are
    assert [(m, p) for m, p, _ in harness.robot_log()[9:]] == [(90.0, "zhao"), (90.0, "li")]

    await harness.minutes(10, 5.0)  # back in range: cleared after 5 min
    assert service.view()["alarms"][0]["status"] == "cleared"
    sent = len(harness.robot.sent)
    service.close_alarm("1", "wang", "压缩机故障", "疫苗转移到2号冰箱，已报修")
    await harness.minutes(60, 5.0)
    assert len(harness.robot.sent) == sent  # nothing after the close

    view = service.view()
    (closed,) = view["alarms"]
    assert closed["status"] == "closed"
    assert closed["closed_by"] == "wang"
    assert closed["disposition"] == "cause: 压缩机故障; action: 疫苗转移到2号冰箱，已报修"
    kinds = [t["kind"] for t in closed["timeline"]]
    assert kinds == [
        "opened",
        "tier_notified",
        "tier_notified",
        "tier_notified",
        "acknowledged",
        "cleared",
        "closed",
    ]
    states = {n["state"] for n in closed["notifications"]}
    assert states == {EntryState.DELIVERED}
    assert all(n["attempts"] == 1 for n in closed["notifications"])
    health = service.health()
    assert health["open_alarms"] == 0
    assert health["outbox_pending"] == 0
    assert health["last_tick"] is not None
