"""The daily digest: yesterday's alarms, sent to tier 1 at 08:00 China Standard Time.

`digest_items` and `render_digest` are pure (tested on their own). `DigestJob` decides when:
the fire times come from APScheduler's `CronTrigger` (the owner's choice for periodic jobs;
it does the time-zone arithmetic), but the waiting is done on the gateway's injected `Clock`,
not by APScheduler's scheduler, which sleeps on the machine's wall clock and so could neither be
driven by a `FakeClock` in tests nor run 60× faster in the demo. The next fire time is kept in
the alarm store: a gateway that was off at 08:00 sends the missed digest once when it starts
(coalesced, like APScheduler's `coalesce=True`), and a restart never sends one twice.

Digests go through the outbox like alarms (so they wait out a network outage), to every tier-1
person by the tier's message channels (never a voice call).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped, unused-ignore]
from pydantic import TypeAdapter

from alerts.escalation_state import Alarm
from alerts.messages import Message, describe, place_of
from alerts.model import ChannelKind
from alerts.settings import AlertSettings
from gateway.alarms.notices import opening_notice
from gateway.core.clinic_time import CLINIC_TZ, day_bounds
from gateway.core.clock import Clock
from gateway.settings import Settings
from gateway.storage.alarm_rows import AlarmRow, NewOutboxRow, Work
from gateway.storage.alarms import META_DIGEST_DUE, AlarmStore

log = logging.getLogger(__name__)

_ALARM = TypeAdapter(Alarm)
MAX_SLEEP_S = 300.0
"""Re-check the wall clock at least this often (NTP may step it while we sleep)."""


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One alarm of the day, in words and times; people by id only (DESIGN principle 9)."""

    no: int
    place: str
    condition: str
    opened_at: datetime
    acked_at: datetime | None
    acked_by: str | None
    cleared_at: datetime | None
    closed_at: datetime | None
    disposition: str | None


def digest_items(rows: Sequence[AlarmRow], settings: Settings) -> list[DigestItem]:
    """The alarms as the digest shows them, in the order they opened."""
    items = []
    for row in rows:
        alarm = _ALARM.validate_python(row.data)
        place = place_of(settings.unit.name, settings.fridges, alarm.condition.subject)
        notify = opening_notice(alarm)
        first_ack = min(alarm.acks, key=lambda ack: ack.at, default=None)
        items.append(
            DigestItem(
                no=row.no,
                place=place.words,
                condition=describe(notify, place),
                opened_at=alarm.opened_at,
                acked_at=None if first_ack is None else first_ack.at,
                acked_by=None if first_ack is None else first_ack.person,
                cleared_at=alarm.cleared_at,
                closed_at=row.closed_at,
                disposition=row.disposition,
            )
        )
    return sorted(items, key=lambda item: (item.opened_at, item.no))


def render_digest(day: date, unit_name: str, items: Sequence[DigestItem]) -> Message:
    """The digest of `day` (a local date) for a unit. Pure."""
    title = f"冷链日报 {day.isoformat()}"
    open_count = sum(1 for item in items if item.closed_at is None)
    summary = (
        f"报警 {len(items)} 起，未关闭 {open_count} 起" if items else "昨日无报警，冷链运行正常"
    )
    lines = [f"【{title}】{unit_name}", summary]
    lines += [f"{index}. {_line(item)}" for index, item in enumerate(items, start=1)]
    if open_count:
        lines.append("未关闭的报警请处置后在网关登记原因和措施")
    text = "\n".join(lines)
    markdown = "\n".join([f"## {title}", f"> {unit_name}：{summary}", *lines[2:]])
    speech = f"{title}。{unit_name}，{summary}。"
    parts = {
        "title": title,
        "place": unit_name,
        "condition": summary,
        "since": day.isoformat(),
        "tier": "一级（疫苗管理员）",
        "action": "详情请登录网关查看" if items else "无需处置",
    }
    return Message(text, markdown, speech, parts)


def _line(item: DigestItem) -> str:
    parts = [f"#{item.no} {item.place}：{item.condition}", f"开始 {_hm(item.opened_at)}"]
    if item.acked_at is None:
        parts.append("无人确认到场")
    else:
        minutes = int((item.acked_at - item.opened_at).total_seconds() // 60)
        parts.append(f"{item.acked_by} 确认到场 {_hm(item.acked_at)}（{minutes} 分钟）")
    if item.cleared_at is not None:
        parts.append(f"恢复 {_hm(item.cleared_at)}")
    if item.closed_at is not None:
        parts.append(f"已关闭（{item.disposition or ''}）")
    else:
        parts.append("未关闭")
    return "；".join(parts)


def _hm(moment: datetime) -> str:
    return moment.astimezone(CLINIC_TZ).strftime("%m-%d %H:%M")


def digest_rows(
    day: date, settings: Settings, alerts: AlertSettings, store: AlarmStore, now: datetime
) -> list[NewOutboxRow]:
    """One outbox row per tier-1 person and message channel, with the digest of `day`."""
    start, end = day_bounds(day)
    items = digest_items(store.alarms_opened_between(start, end), settings)
    message = render_digest(day, settings.unit.name, items)
    day_id = f"digest:{day.isoformat()}"
    rows: list[NewOutboxRow] = []
    for person_id in alerts.tier_people(1):
        channels = alerts.channels_for(1, alerts.person(person_id))
        rows.extend(
            NewOutboxRow(day_id, person_id, 1, kind, "digest", message, "", now)
            for kind in channels
            if kind is not ChannelKind.VOICE
        )
    return rows


class DigestJob:
    """Sends the digest of the previous local day at `hour:minute` Asia/Shanghai."""

    def __init__(
        self,
        settings: Settings,
        alerts: AlertSettings,
        store: AlarmStore,
        clock: Clock,
        on_rows: Callable[[], None],
        *,
        hour: int = 8,
        minute: int = 0,
    ) -> None:
        self.settings = settings
        self._alerts = alerts
        self._store = store
        self._clock = clock
        self._on_rows = on_rows
        self._trigger = CronTrigger(hour=hour, minute=minute, timezone=CLINIC_TZ)
        self.next_due: datetime | None = None

    def _next_after(self, moment: datetime) -> datetime:
        fire: datetime = self._trigger.get_next_fire_time(None, moment + timedelta(seconds=1))
        return fire

    async def run(self) -> None:
        stored = self._store.get_meta(META_DIGEST_DUE)
        if stored is None:
            due = self._next_after(self._clock.now())
            self._store.set_meta(META_DIGEST_DUE, due.isoformat())
        else:
            due = datetime.fromisoformat(stored)
        self.next_due = due
        while True:
            now = self._clock.now()
            if now < due:
                await self._clock.sleep(min((due - now).total_seconds(), MAX_SLEEP_S))
                continue
            due = self.fire(due, now)

    def fire(self, due: datetime, now: datetime) -> datetime:
        """Send the digest of the day before `due` (local) and persist the next due time."""
        day = due.astimezone(CLINIC_TZ).date() - timedelta(days=1)
        following = self._next_after(max(due, now))
        rows = digest_rows(day, self.settings, self._alerts, self._store, now)
        self._store.commit(Work(outbox=rows, meta={META_DIGEST_DUE: following.isoformat()}))
        log.info("daily digest of %s queued for %d recipient channel(s)", day, len(rows))
        self.next_due = following
        self._on_rows()
        return following
