"""The daily digest: its content (pure) and its schedule (08:00 Beijing, on the FakeClock)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gateway.alarms.digest import DigestItem, DigestJob, render_digest
from gateway.core.clock import FakeClock
from gateway.storage.alarms import AlarmStore
from gateway.storage.registry import ALARMS
from tests.alarms.conftest import Harness, clinic


def test_render_digest_lists_each_alarm_with_response_and_disposition() -> None:
    opened = datetime(2026, 3, 1, 1, 15, tzinfo=UTC)  # 09:15 Beijing
    items = [
        DigestItem(
            no=3,
            place="1号冰箱 冷藏",
            condition="温度过高 9.5 °C（正常 2.0～8.0 °C）",
            opened_at=opened,
            acked_at=opened + timedelta(minutes=25),
            acked_by="wang",
            cleared_at=opened + timedelta(minutes=70),
            closed_at=opened + timedelta(minutes=90),
            disposition="cause: 压缩机故障; action: 转移疫苗",
        ),
        DigestItem(
            4,
            "网关 sim",
            "1号冰箱 通信中断",
            opened + timedelta(hours=5),
            None,
            None,
            None,
            None,
            None,
        ),
    ]
    message = render_digest(date(2026, 3, 1), "测试门诊", items)
    assert message.text.split("\n") == [
        "【冷链日报 2026-03-01】测试门诊",
        "报警 2 起，未关闭 1 起",
        "1. #3 1号冰箱 冷藏：温度过高 9.5 °C（正常 2.0～8.0 °C）；开始 03-01 09:15；"
        "wang 确认到场 03-01 09:40（25 分钟）；恢复 03-01 10:25；"
        "已关闭（cause: 压缩机故障; action: 转移疫苗）",
        "2. #4 网关 sim：1号冰箱 通信中断；开始 03-01 14:15；无人确认到场；未关闭",
        "未关闭的报警请处置后在网关登记原因和措施",
    ]
    assert message.parts["condition"] == "报警 2 起，未关闭 1 起"
    quiet = render_digest(date(2026, 3, 1), "测试门诊", [])
    assert quiet.text == "【冷链日报 2026-03-01】测试门诊\n昨日无报警，冷链运行正常"


@pytest.mark.asyncio
async def test_digest_goes_out_at_eight_beijing_once_even_across_a_restart(
    tmp_path: Path, clock: FakeClock
) -> None:
    harness = Harness(clinic(tmp_path / "data"), clock)
    await harness.start()
    try:
        await harness.minutes(16, 9.5)  # an alarm on 2026-03-02 (Beijing)
        assert harness.alarms.health()["next_digest"] == "2026-03-03T08:00:00+08:00"
    finally:
        await harness.stop()
    # The digest job alone, on the same store: 08:00 Beijing on 03-03 is 00:00 UTC.
    with AlarmStore(tmp_path / "data" / ALARMS.file) as store:
        settings = harness.settings
        assert settings.alerts is not None
        woken: list[int] = []
        job = DigestJob(settings, settings.alerts, store, clock, lambda: woken.append(1))
        task = asyncio.create_task(job.run(), name="digest")
        await clock.advance((datetime(2026, 3, 3, tzinfo=UTC) - clock.now()).total_seconds() - 1)
        assert woken == []
        await clock.advance(2)
        assert woken == [1]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        rows = [r for r in store.outbox_all() if r.entry.alarm_id.startswith("digest:")]
        assert {(r.entry.alarm_id, r.entry.person, str(r.entry.channel)) for r in rows} == {
            ("digest:2026-03-02", "wang", "wecom_robot"),
            ("digest:2026-03-02", "wang", "console"),
        }
        assert "报警 1 起，未关闭 1 起" in rows[0].message.text
        # A restart after the fire does not send it again; the next is the day after.
        again = DigestJob(settings, settings.alerts, store, clock, lambda: woken.append(2))
        task = asyncio.create_task(again.run(), name="digest")
        await clock.advance(3600)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert woken == [1]
        assert again.next_due == datetime(2026, 3, 4, tzinfo=UTC)
