"""Queue overflow, a failing disk, link alarms over offline alarms, power gaps, WHO records,
and the one-transaction guarantee of the alarm store."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.escalation_state import Transition, TransitionKind
from alerts.messages import Message
from alerts.model import ChannelKind
from gateway.core.clock import FakeClock
from gateway.core.errors import StoreError
from gateway.storage.alarm_rows import NewOutboxRow, Work
from gateway.storage.alarms import AlarmStore
from gateway.storage.readings import StoredReading
from gateway.storage.registry import ALARMS
from probes.modbus import BusHealth
from probes.reading import ProbeStatus, Reading
from tests.alarms.conftest import FROZEN_PROBE, PROBE, T0, Harness, clinic, wait_until


@pytest.mark.asyncio
async def test_queue_overflow_catches_up_from_the_store_and_loses_nothing(
    tmp_path: Path, clock: FakeClock
) -> None:
    harness = Harness(clinic(tmp_path / "data"), clock, queue_batches=1)
    await harness.start()
    try:
        # 20 minutes of warm readings committed as 40 one-reading batches, handed to the
        # service faster than it consumes them: only one fits in its queue.
        for minute in range(20):
            at = T0 + timedelta(minutes=minute)
            for probe, value in ((PROBE, 9.5), (FROZEN_PROBE, -20.0)):
                reading = Reading(probe, at, ProbeStatus.OK, value)
                seq = harness.readings.write_batch([reading])
                harness.alarms._on_batch([StoredReading(seq, reading)])
        await wait_until(lambda: harness.alarms.core.evaluated_seq == 40, "the catch-up")
        health = harness.alarms.health()
        assert health["queue_overflows"] == 39
        assert health["catch_ups"] >= 2  # the start-up one and the overflow
        (alarm,) = harness.alarms.core.escalation.alarms.values()
        assert alarm.since == T0  # evaluated from the first reading, not from the newest
        assert alarm.opened_at == T0  # now (FakeClock did not move)
    finally:
        await harness.stop()


@pytest.mark.asyncio
async def test_a_step_that_cannot_be_written_is_retried_from_the_cursor(
    harness: Harness,
) -> None:
    path = harness.data_dir / ALARMS.file
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER no_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk"
            " full (test)'); END"
        )
    await harness.minutes(17, 9.5)
    assert harness.robot.sent == []
    assert harness.alarms.core.escalation.alarms == {}  # memory did not move either
    assert "disk full (test)" in (harness.alarms.health()["last_error"] or "")
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER no_outbox")
    await harness.minutes(1, 9.5)
    assert [p for _, p, _ in harness.robot_log()] == ["wang"]
    assert harness.alarms.health()["last_error"] is None


def test_one_step_is_one_transaction(tmp_path: Path) -> None:
    with AlarmStore(tmp_path / ALARMS.file) as store:
        saboteur = sqlite3.connect(tmp_path / ALARMS.file)
        saboteur.execute(
            "CREATE TRIGGER no_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'x'); END"
        )
        saboteur.close()
        message = Message("t", "m", "s", {})
        work = Work(
            escalation={"unit": "6101030203"},
            evaluated_seq=7,
            transitions=[Transition("a1", T0, TransitionKind.OPENED)],
            outbox=[NewOutboxRow("a1", "wang", 1, ChannelKind.CONSOLE, "opened", message, "", T0)],
        )
        with pytest.raises(StoreError, match="cannot write an alarm step"):
            store.commit(work)
        assert store.escalation_state() is None
        assert store.evaluated_seq() is None
        assert store.transitions() == []


@dataclass
class FakeDriver:
    name: str
    health: BusHealth = field(default_factory=BusHealth)


@pytest.mark.asyncio
async def test_a_link_alarm_suppresses_the_offline_alarms_of_its_probes(
    tmp_path: Path, clock: FakeClock
) -> None:
    driver = FakeDriver("sim", BusHealth(connected=True))
    harness = Harness(clinic(tmp_path / "data"), clock, drivers=[driver])
    await harness.start()
    try:
        await harness.minutes(3, 5.0)
        driver.health.connected = False
        driver.health.link_error = "cannot connect to Modbus TCP 127.0.0.1:5020 (test)"
        await clock.advance(10 * 60)  # no readings: the probes go offline too
        alarms = list(harness.alarms.core.escalation.alarms.values())
        (link,) = [a for a in alarms if str(a.condition.kind) == "gateway_link"]
        offline = [a for a in alarms if str(a.condition.kind) == "probe_offline"]
        assert sorted(a.condition.probe or "" for a in offline) == [PROBE, FROZEN_PROBE]
        assert {a.suppressed_by for a in offline} == {f"inhibited by {link.id}"}
        # Only the link alarm was sent: one alarm for the bus, not one per probe.
        assert [(n.person.id, n.message.text.split("\n")[2]) for _, n in harness.robot.sent] == [
            ("wang", "位置：网关 sim")
        ]
        assert harness.alarms.health()["links_down"] == ["sim"]
        driver.health.connected = True
        driver.health.link_error = None
        await harness.minutes(2, 5.0)
        assert not harness.alarms.core.escalation.alarms[link.id].active
        assert harness.alarms.health()["links_down"] == []
    finally:
        await harness.stop()


@pytest.mark.asyncio
async def test_power_gap_is_reported_once_and_who_freeze_is_recorded(
    tmp_path: Path, clock: FakeClock
) -> None:
    harness = Harness(clinic(tmp_path / "data"), clock)
    await harness.start()
    try:
        await harness.minutes(62, -1.0)  # frozen in the fridge: too cold at 2 min, WHO at 60
        who = harness.alarms.store.who_excursions()
        assert [(w.kind, w.compartment, w.probe, w.since, w.value) for w in who] == [
            ("who_freeze", "F1/冷藏", PROBE, T0, -1.0)
        ]
        assert who[0].cleared_at is None
        await harness.minutes(7, 5.0)  # the first normal reading ends the excursion
        assert harness.alarms.store.who_excursions()[0].cleared_at == T0 + timedelta(minutes=62)
        await harness.stop_service()
        await clock.advance(3600)  # the gateway is off for an hour
        sent = len(harness.robot.sent)
        await harness.start_service()
        await asyncio.sleep(0)
        await harness.minutes(1, 5.0)
        power = [
            a
            for a in harness.alarms.core.escalation.alarms.values()
            if str(a.condition.kind) == "gateway_power"
        ]
        assert len(power) == 1
        assert not power[0].active  # raised and cleared at once: tier 1 hears of it once
        after = [notification for _, notification in harness.robot.sent[sent:]]
        gap = [n for n in after if "网关断电" in n.message.text]
        assert [n.person.id for n in gap] == ["wang"]
        assert "网关断电 1 小时 0 分钟" in gap[0].message.text
        # The too-cold alarm cleared but was never closed: every tier is reminded to close it.
        reminders = [n for n in after if n not in gap]
        assert [n.person.id for n in reminders] == ["zhao", "li", "wang"]
        assert all("恢复正常" in n.message.text for n in reminders)
        assert all("请登记原因和处置措施后关闭报警" in n.message.text for n in reminders)
    finally:
        await harness.stop()
