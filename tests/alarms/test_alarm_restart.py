"""Restart in the middle of an escalation: nothing is sent twice, nothing is skipped."""

from __future__ import annotations

import pytest

from alerts.model import ChannelKind
from gateway.storage.alarms import AlarmStore
from gateway.storage.registry import ALARMS
from tests.alarms.conftest import Harness

pytestmark = pytest.mark.asyncio


def tier_rows(harness: Harness, tier: int) -> list[tuple[str, str, str]]:
    with AlarmStore(harness.data_dir / ALARMS.file) as store:
        return [
            (row.entry.person, str(row.entry.channel), str(row.entry.state))
            for row in store.outbox_all()
            if row.tier == tier and row.reason == "escalated"
        ]


async def test_restart_at_25_minutes_sends_tier_two_exactly_once(harness: Harness) -> None:
    await harness.minutes(16, 9.5)  # the alarm opens at minute 15
    assert [p for _, p, _ in harness.robot_log()] == ["wang"]
    await harness.minutes(25, 9.5)  # minute 41: 26 min into the alarm, tier 2 due at 45
    assert tier_rows(harness, 2) == []

    await harness.stop_service()
    await harness.minutes(2, 9.5)  # readings keep being committed while the service is down
    await harness.start_service()  # a new service on the same data_dir
    await harness.minutes(5, 9.5)  # minute 48

    assert tier_rows(harness, 2) == [
        ("li", ChannelKind.WECOM_ROBOT, "delivered"),
        ("li", ChannelKind.CONSOLE, "delivered"),
    ]
    assert [(m, p) for m, p, _ in harness.robot_log() if p == "li"] == [(45.0, "li")]
    # Tier 1 was not re-sent by the restart: one opening message, reminders on their grid.
    opened = [(m, p) for m, p, t in harness.robot_log() if t.startswith("【冷链报警】")]
    assert opened == [(15.0, "wang")]
    (alarm,) = harness.alarms.view()["alarms"]
    assert alarm["no"] == 1
    assert [t["kind"] for t in alarm["timeline"]] == ["opened", "tier_notified", "tier_notified"]
    # Whom each tier told, by person id, for the pages to show by name.
    told = [(t["tier"], t["told"]) for t in alarm["timeline"]]
    assert told == [(None, None), (1, ["wang"]), (2, ["li"])]


async def test_restart_replays_readings_the_service_did_not_see(harness: Harness) -> None:
    await harness.minutes(5, 5.0)
    await harness.stop_service()
    # The whole excursion (hold-off and beyond) happens while the service is stopped: the
    # readings are in the readings store only.
    await harness.minutes(4, 9.5)  # < power_gap_s: no power alarm
    await harness.start_service()
    await harness.minutes(12, 9.5)
    assert harness.robot_log()[0][:2] == (20.0, "wang")
    (alarm,) = harness.alarms.view()["alarms"]
    assert alarm["since"] == "2026-03-02T01:05:00+00:00"
    assert alarm["kind"] == "too_warm"
