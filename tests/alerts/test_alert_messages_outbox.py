"""Chinese message rendering, and the outbox's retry policy."""

from __future__ import annotations

import random
from datetime import timedelta

from alerts.channels.base import DeliveryResult, Outcome
from alerts.escalation_state import Notify, NotifyReason
from alerts.messages import place_of, render
from alerts.model import ChannelKind, Condition, ConditionKind
from alerts.outbox import EntryState, OutboxEntry, expire, is_due, record_attempt, supersede
from alerts.settings import OutboxSettings
from gateway.settings import Settings
from tests.alerts.conftest import T0, UNIT

GATEWAY = Settings.model_validate(
    {
        "unit": {"code": UNIT, "name": "新城区卫生院", "region_code": "610102"},
        "gateway": {"number": "10001"},
        "fridges": [
            {
                "code": "F1",
                "name": "1号冰箱",
                "kind": "refrigerator",
                "compartments": [{"name": "冷藏", "kind": "refrigerated"}],
            }
        ],
    }
)


def notify(kind: ConditionKind, subject: str, value: float | None, detail: str = "") -> Notify:
    return Notify(
        alarm_id="a1",
        person="li",
        tier=2,
        channels=(ChannelKind.SMS,),
        reason=NotifyReason.ESCALATED,
        condition=Condition(kind, subject, "208601"),
        since=T0,
        at=T0 + timedelta(minutes=30),
        value=value,
        detail=detail,
    )


def test_a_warm_alarm_reads_in_chinese_with_place_time_tier_and_link() -> None:
    message = render(
        notify(ConditionKind.TOO_WARM, "F1/冷藏", 9.4),
        place_of(GATEWAY.unit.name, GATEWAY.fridges, "F1/冷藏"),
        "https://gw/ack/t",
    )
    for expected in (
        "冷链报警升级",
        "新城区卫生院",
        "1号冰箱 冷藏",
        "温度过高 9.4 °C（正常 2.0～8.0 °C）",
        "2026-03-02 09:00（北京时间）",
        "已持续 30 分钟",
        "二级（科室负责人）",
        "https://gw/ack/t",
    ):
        assert expected in message.text
    assert message.parts["since"] == "2026-03-02 09:00"
    assert "https://gw/ack/t" in message.markdown
    assert "温度过高" in message.speech


def test_faults_and_power_gaps_are_described_never_as_temperatures() -> None:
    fault = render(
        notify(ConditionKind.PROBE_FAULT, "F1/冷藏", None, "disconnected"),
        place_of(GATEWAY.unit.name, GATEWAY.fridges, "F1/冷藏"),
        "l",
    )
    assert "探头 208601 故障（探头断开）" in fault.text
    assert "°C" not in fault.text.split("情况：")[1].split("\n")[0]
    gap = render(
        notify(ConditionKind.GATEWAY_POWER, "10001", 8100.0),
        place_of(GATEWAY.unit.name, GATEWAY.fridges, "10001"),
        "l",
    )
    assert "网关断电 2 小时 15 分钟" in gap.text
    assert "网关 10001" in gap.text


POLICY = OutboxSettings()


def entry(created_minute: float = 0, entry_id: str = "n1") -> OutboxEntry:
    created = T0 + timedelta(minutes=created_minute)
    return OutboxEntry(entry_id, "a1", "wang", ChannelKind.SMS, created, created)


def test_backoff_doubles_with_jitter_up_to_the_cap_and_respects_retry_after() -> None:
    rng = random.Random(7)
    current, delays = entry(), []
    for _ in range(10):
        now = current.next_attempt_at
        current = record_attempt(
            current, DeliveryResult(Outcome.RETRY_LATER, "down"), now, POLICY, rng
        )
        delays.append((current.next_attempt_at - now).total_seconds())
    assert 12 <= delays[0] <= 18
    assert 24 <= delays[1] <= 36
    assert all(d <= 600 * 1.2 for d in delays)
    assert delays[-1] >= 600 * 0.8
    later = record_attempt(
        entry(), DeliveryResult(Outcome.RETRY_LATER, "45009", 60.0), T0, POLICY, rng
    )
    assert later.next_attempt_at >= T0 + timedelta(seconds=60)
    assert not is_due(later, T0)
    assert is_due(later, T0 + timedelta(seconds=80))


def test_permanent_failures_and_hours_of_outage_end_visibly() -> None:
    rng = random.Random(1)
    failed = record_attempt(
        entry(), DeliveryResult(Outcome.FAILED_PERMANENTLY, "21211"), T0, POLICY, rng
    )
    assert (failed.state, failed.detail) == (EntryState.FAILED, "21211")
    stale = expire(entry(), T0 + timedelta(hours=12), POLICY)
    assert stale.state is EntryState.EXPIRED
    assert "gave up" in stale.detail
    assert expire(entry(), T0 + timedelta(hours=11), POLICY).state is EntryState.PENDING


def test_reminders_queued_during_an_outage_collapse_to_the_newest() -> None:
    queued = [entry(0, "n1"), entry(15, "n2"), entry(30, "n3")]
    changed = supersede(queued)
    assert [(e.id, e.state) for e in changed] == [
        ("n1", EntryState.SUPERSEDED),
        ("n2", EntryState.SUPERSEDED),
    ]
