"""Alarm events: pure mapping and line encoding; the lane advances only on acknowledgement."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.core.clock import FakeClock
from gateway.forward.alarm_events import (
    AlarmEvent,
    AlarmEventLane,
    alarm_event_line,
    events_from,
)
from gateway.forward.errors import RetryableError
from gateway.forward.tags import Identity
from gateway.storage.alarm_rows import AlarmRow, TransitionRow
from gateway.storage.alarms import AlarmStore

T0 = datetime(2026, 10, 3, 18, 0, tzinfo=UTC)
IDENTITY = Identity("6101030203", "10001", {}, "610102")
ALARM_ID = "too_warm:F1/冷藏:208601@2026-10-03T18:00:00+00:00"
ALARM = AlarmRow(
    no=1,
    id=ALARM_ID,
    opened_at=T0,
    closed_at=None,
    closed_by=None,
    disposition=None,
    data={
        "condition": {"kind": "too_warm", "subject": "F1/冷藏", "probe": "208601"},
        "value": 9.1,
    },
)


def transition(
    seq: int, minutes: float, kind: str, who: str | None = None, detail: str = ""
) -> TransitionRow:
    return TransitionRow(seq, ALARM_ID, T0 + timedelta(minutes=minutes), kind, who, detail)


def test_transitions_become_events_with_placement_tier_and_who() -> None:
    rows = [
        transition(1, 0, "opened"),
        transition(2, 0, "tier_notified", detail="tier 1: wang"),
        transition(3, 30, "tier_notified", detail="tier 2: li"),
        transition(4, 41, "suppressed"),
        transition(5, 42, "acknowledged", "wang", "on site"),
        TransitionRow(6, None, T0, "silence_started", "wang", "defrost"),
    ]
    events = events_from(rows, {ALARM_ID: ALARM})
    assert [(e.seq, e.event, e.tier, e.who) for e in events] == [
        (1, "opened", None, None),
        (2, "tier_notified", 1, None),
        (3, "tier_notified", 2, None),
        (5, "acknowledged", None, "wang"),
    ]
    assert {(e.fridge, e.compartment, e.probe, e.condition) for e in events} == {
        ("F1", "冷藏", "208601", "too_warm")
    }


def test_an_event_is_one_line_of_protocol() -> None:
    event = events_from(
        [transition(3, 30, "tier_notified", detail="tier 2: li")], {ALARM_ID: ALARM}
    )[0]
    assert alarm_event_line(event, IDENTITY) == (
        "coldchain_alarm,compartment=冷藏,condition=too_warm,event=tier_notified,fridge=F1,"
        "gateway=10001,probe=208601,region=610102,unit=6101030203 "
        f'alarm="{ALARM_ID}",alarm_no=1i,seq=3i,tier=2i,value=9.1 1791052200000'
    )


def test_who_acknowledged_is_a_tag_and_the_alarm_a_number_too() -> None:
    """VictoriaMetrics keeps tags and numbers, not string fields: both survive there."""
    event = events_from([transition(5, 42, "acknowledged", "wang", "on site")], {ALARM_ID: ALARM})[
        0
    ]
    key, fields, _ = alarm_event_line(event, IDENTITY).split(" ")
    assert key.endswith(",unit=6101030203,who=wang")
    assert fields == f'alarm="{ALARM_ID}",alarm_no=1i,seq=5i,value=9.1'
    assert event.as_json(IDENTITY)["alarm_no"] == 1


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AlarmStore]:
    with AlarmStore(tmp_path / "alarms.sqlite3") as opened:
        yield opened


class Flaky:
    """A deliverer that refuses the first `failures` calls, as a server that is down would."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.delivered: list[int] = []

    async def __call__(self, events: Sequence[AlarmEvent]) -> None:
        if self.failures:
            self.failures -= 1
            raise RetryableError("server down", retry_after=30)
        self.delivered += [event.seq for event in events]


@pytest.mark.asyncio
async def test_the_cursor_moves_only_after_delivery(
    store: AlarmStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [transition(1, 0, "opened"), transition(2, 0, "tier_notified", detail="tier 1: wang")]
    monkeypatch.setattr(
        store, "transitions_after", lambda seq, limit: [r for r in rows if r.seq > seq][:limit]
    )
    monkeypatch.setattr(store, "alarms_by_id", lambda ids: {ALARM_ID: ALARM})
    deliver = Flaky(failures=2)
    lane = AlarmEventLane("influx", store, deliver, FakeClock())
    assert await lane.step() >= 30, "the server's Retry-After is honoured"
    assert lane.cursor == 0
    assert lane.last_error == "server down"
    await lane.step()
    assert lane.cursor == 0
    await lane.step()
    assert (lane.cursor, deliver.delivered, lane.last_error) == (2, [1, 2], None)
    assert await lane.step() == 2.0, "nothing new: wait the idle interval"
    reopened = AlarmEventLane("influx", store, deliver, FakeClock())
    assert reopened.cursor == 2, "the cursor survives a restart"


@pytest.mark.asyncio
async def test_the_lane_runs_until_cancelled(store: AlarmStore) -> None:
    lane = AlarmEventLane("mqtt", store, Flaky(0), FakeClock())
    task = asyncio.create_task(lane.run(), name="alarm-events-mqtt")
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_a_gateway_wide_alarm_leaves_empty_tags_out_and_escapes_strings() -> None:
    event = AlarmEvent(
        seq=9,
        alarm='power:gw"1',
        condition="gateway_power",
        event="acknowledged",
        at=datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=5),
        fridge=None,
        compartment=None,
        probe=None,
        tier=None,
        who="p li",
        value=None,
    )
    assert alarm_event_line(event, IDENTITY) == (
        "coldchain_alarm,condition=gateway_power,event=acknowledged,gateway=10001,"
        'region=610102,unit=6101030203,who=p\\ li alarm="power:gw\\"1",seq=9i 5'
    )
