"""``ledger:deadline``: the vaccine manager told of records at risk of their 24 h upload
deadline, once per record version; see `gateway.ledgers.tasks`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from alerts.messages import Message
from alerts.model import ChannelKind
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import Clock
from gateway.core.errors import StoreError
from gateway.ledgers.book import LedgerBook
from gateway.ledgers.upload import DeadlineAlarm
from gateway.settings import Settings
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from gateway.alarms.engine import AlarmService

log = logging.getLogger(__name__)

DEADLINE_CHECK_S = 300.0
DEADLINE_MARK = "ledger_deadline:"
"""Alarm-store meta key prefix: the deadline notice for this record version went out."""


def deadline_message(alarms: Sequence[DeadlineAlarm], unit_name: str, margin_h: float) -> Message:
    """The notice for the vaccine manager; record ids only, no personal data. Pure."""
    first = min(alarm.deadline for alarm in alarms)
    rejected = [alarm for alarm in alarms if alarm.state == "rejected"]
    title = "接种个案上传预警"
    summary = f"{len(alarms)} 条接种个案将超过 24 小时上传时限（最早 {_local(first)}）"
    cause = (
        f"其中 {len(rejected)} 条被省平台退回：{rejected[0].error}"
        if rejected
        else "省平台无法连接或尚未上传"
    )
    action = "请检查网络，或在网关更正被退回的记录后重新上传"
    ids = "、".join(alarm.record_id for alarm in alarms[:5]) + ("等" if len(alarms) > 5 else "")
    lines = [f"【{title}】{unit_name}", summary, cause, f"记录：{ids}", action]
    return Message(
        text="\n".join(lines),
        markdown="\n".join([f"## {title}", f"> {unit_name}：{summary}", cause, ids, action]),
        speech=f"{title}。{unit_name}，{summary}。",
        parts={
            "title": title,
            "place": unit_name,
            "condition": summary,
            "since": _local(first),
            "tier": f"一级（疫苗管理员），提前 {margin_h:g} 小时",
            "action": action,
        },
    )


def _local(moment: datetime) -> str:
    return moment.astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M")


def _mark(alarm: DeadlineAlarm) -> str:
    return f"{DEADLINE_MARK}{alarm.record_id}:{alarm.version}"


class DeadlineWatch:
    """Notifies the vaccine manager of records at risk, once per record version."""

    def __init__(
        self, book: LedgerBook, settings: Settings, clock: Clock, alarms: AlarmService | None
    ) -> None:
        self.book = book
        self.settings = settings
        self.clock = clock
        self.alarms = alarms
        self.at_risk: list[DeadlineAlarm] = []
        self.notified = 0
        self.last_error: str | None = None
        self._warned: set[str] = set()

    @property
    def problem(self) -> str | None:
        if self.alarms is None and self.at_risk:
            return "records at risk but no [alerts] section: nobody is told (fix: add [alerts])"
        return self.last_error

    async def run(self) -> None:
        while True:
            self.check()
            await self.clock.sleep(DEADLINE_CHECK_S)

    def check(self) -> int:
        """One look at the queue; returns how many record versions were newly notified."""
        try:
            self.at_risk = self.book.uploader.deadline_alarms()
        except LedgerError as error:
            self._failed(str(error))
            return 0
        if self.alarms is None:
            fresh = [alarm for alarm in self.at_risk if _mark(alarm) not in self._warned]
            for alarm in fresh:
                log.warning(
                    "record %s v%d misses its upload deadline %s and no [alerts] section is"
                    " configured to tell the vaccine manager",
                    alarm.record_id,
                    alarm.version,
                    _local(alarm.deadline),
                )
                self._warned.add(_mark(alarm))
            return 0
        return self._notify(self.alarms)

    def _notify(self, alarms: AlarmService) -> int:
        from gateway.storage.alarm_rows import NewOutboxRow, Work

        try:
            fresh = [a for a in self.at_risk if alarms.store.get_meta(_mark(a)) is None]
            if not fresh:
                return 0
            now = self.clock.now()
            ledger = self.settings.ledger
            margin_h = ledger.alarm_margin_h if ledger is not None else 0.0
            message = deadline_message(fresh, self.settings.unit.name, margin_h)
            notice_id = f"ledger-deadline:{fresh[0].record_id}:{fresh[0].version}"
            alerts = alarms.alerts
            rows = [
                NewOutboxRow(notice_id, person, 1, kind, "ledger_deadline", message, "", now)
                for person in alerts.tier_people(1)
                for kind in alerts.channels_for(1, alerts.person(person))
                if kind is not ChannelKind.VOICE
            ]
            marks = {_mark(alarm): now.isoformat() for alarm in fresh}
            alarms.store.commit(Work(outbox=rows, meta=marks))
        except StoreError as error:
            self._failed(str(error))
            return 0
        self.last_error = None
        self.notified += len(fresh)
        alarms.dispatcher.wake()
        log.warning(
            "%d record(s) at risk of the 24 h upload deadline: vaccine manager notified (%d "
            "message(s))",
            len(fresh),
            len(rows),
        )
        return len(fresh)

    def _failed(self, error: str) -> None:
        if self.last_error is None:
            log.error("deadline check failed, will retry: %s", error)
        self.last_error = error
