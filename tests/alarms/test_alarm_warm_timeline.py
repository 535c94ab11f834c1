"""Six hours of a warm fridge after acknowledgement, on a FakeClock with the real recorder,
stores and alarm service: the tiers keep hearing about it until it is handled, each person
acknowledging pauses only their own reminders for the on-site time, and every message quotes
the temperature now and the peak so far, each with the time it was measured."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from gateway.core.clinic_time import CLINIC_TZ
from tests.alarms.conftest import T0, Harness

pytestmark = pytest.mark.asyncio

HOURS = 6
ON_SITE_MIN = 30
REPEAT_MIN = 15
WANG_ACK_MIN = 20
LI_ACK_MIN = 50
CURRENT = re.compile(
    r"当前 (-?\d+\.\d) °C（(\d\d:\d\d) 测得），最高 (-?\d+\.\d) °C（(\d\d:\d\d) 测得）"
)


def warm(minute: int) -> float:
    """A compressor failure: 8.5 °C rising to 20 °C by minute 115, then drifting down."""
    if minute <= 115:
        return round(8.5 + 0.1 * minute, 1)
    return round(20.0 - 0.005 * (minute - 115), 1)


def clock_at(minute: int) -> str:
    return (T0 + timedelta(minutes=minute)).astimezone(CLINIC_TZ).strftime("%H:%M")


def expected_minutes(first: int, acked_at: int | None) -> list[int]:
    """When one person hears: from `first` on the 15-min grid of the alarm (opened at minute
    15), except while on site (from the ack for 30 min)."""
    grid = range(first, HOURS * 60, REPEAT_MIN)
    if acked_at is None:
        return list(grid)
    return [m for m in grid if not acked_at <= m < acked_at + ON_SITE_MIN]


async def test_six_warm_hours_after_acknowledgement(harness: Harness) -> None:
    for minute in range(HOURS * 60):
        if minute == WANG_ACK_MIN:
            harness.alarms.acknowledge("1", "wang", "web")
        if minute == LI_ACK_MIN:
            harness.alarms.acknowledge("1", "li", "link")
        await harness.minutes(1, warm(minute))

    told: dict[str, list[int]] = {"wang": [], "li": [], "zhao": []}
    for at, notification in harness.robot.sent:
        minute = round((at - T0) / timedelta(minutes=1))
        told[notification.person.id].append(minute)
        found = CURRENT.search(notification.message.text)
        assert found, notification.message.text
        current, current_at, peak, peak_at = found.groups()
        # The newest reading committed when the message was made: this minute's or the last.
        measured = next(m for m in (minute, minute - 1) if clock_at(m) == current_at)
        assert float(current) == warm(measured)
        hottest = max(range(measured + 1), key=lambda m: (warm(m), -m))
        assert float(peak) == warm(hottest)
        assert peak_at == clock_at(hottest)

    assert told["wang"] == expected_minutes(15, WANG_ACK_MIN)
    assert told["li"] == expected_minutes(45, LI_ACK_MIN)
    assert told["zhao"] == expected_minutes(75, None)
    assert told["wang"][-1] == told["zhao"][-1] == HOURS * 60 - REPEAT_MIN

    (alarm,) = harness.alarms.view()["alarms"]
    last = HOURS * 60 - 1
    assert alarm["status"] == "active"
    assert alarm["current"]["celsius"] == warm(last)
    assert alarm["peak"] == {
        "celsius": 20.0,
        "at": (T0 + timedelta(minutes=115)).isoformat(),
    }
    assert f"当前 {warm(last):.1f} °C" in alarm["description"]
    assert [a["person"] for a in alarm["acks"]] == ["wang", "li"]


async def test_after_it_clears_the_tiers_are_reminded_until_the_alarm_is_closed(
    harness: Harness,
) -> None:
    for minute in range(90):
        await harness.minutes(1, warm(minute))  # tiers 1 to 3 told by minute 75
    await harness.minutes(15, 5.0)  # back in range: cleared 5 minutes later, at minute 95
    (alarm,) = harness.alarms.view()["alarms"]
    assert alarm["status"] == "cleared"
    before = len(harness.robot.sent)
    await harness.minutes(30, 5.0)
    reminders = [n for _, n in harness.robot.sent[before:]]
    assert sorted({n.person.id for n in reminders}) == ["li", "wang", "zhao"]
    for notification in reminders:
        text = notification.message.text
        assert "已于 10:35 恢复正常" in text
        assert "报警尚未关闭：请登记原因和处置措施后关闭报警" in text
        assert "最高 17.4 °C（10:29 测得）" in text  # the peak stays in the record
    harness.alarms.close_alarm("1", "wang", "压缩机故障", "已维修，疫苗转移")
    closed = len(harness.robot.sent)
    await harness.minutes(60, 5.0)
    assert len(harness.robot.sent) == closed
