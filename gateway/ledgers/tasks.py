"""The ledger's named tasks on a running gateway: upload, deadline alarm, daily jobs.

- ``ledger:upload`` sends the upload queue to the provincial platform (`Uploader.send_due`):
  in real-time mode right after each new record version (and every `poll_s`), in batch mode
  every `poll_s` (the uploader itself keeps to the 20:00–05:00 window, urgent records apart).
  A platform that is down is retried with capped exponential backoff; records stay queued.
- ``ledger:deadline`` asks the uploader which records risk their 24 h deadline and tells the
  vaccine manager (tier-1 people of ``[alerts]``) through the alarm outbox, once per record
  version: the marker is written in the same transaction as the outbox rows, so a restart
  never sends it again. Without ``[alerts]`` it logs a warning and shows it in health.
- ``ledger:daily`` produces each day's summary tables (by age group and by crowd category)
  after midnight, well before the 12:00 deadline, and closes the vaccination day at
  `summary_issue_hour` unless a manager closed it before (`StockLedger.close_day`: the day's
  汇总出库 stored; a dose recorded later adds a supplementary issue to the same day). Both catch
  up on days missed while the gateway was off and are kept in the ledger file, so a restart
  redoes nothing.

All waiting is on the gateway's `Clock`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp

from alerts.messages import Message
from alerts.model import ChannelKind
from gateway.core.backoff import Backoff
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import Clock
from gateway.core.errors import ConfigError, StoreError
from gateway.ledgers.book import LedgerBook
from gateway.ledgers.scans import ActsFor, LedgerScans
from gateway.ledgers.upload import WINDOW_START, DeadlineAlarm
from gateway.settings import Settings
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.locations import StockLocations
from gateway.storage.ledger.queries import (
    first_administration_at,
    first_vaccination_at,
    queue_stats,
    read_meta,
    write_meta,
)
from ledger.errors import LedgerError
from ledger.settings import LedgerSettings
from ledger.summaries import Key, SummaryTable, daily_tables

if TYPE_CHECKING:
    from gateway.alarms.engine import AlarmService

log = logging.getLogger(__name__)

DEADLINE_CHECK_S = 300.0
DAILY_CHECK_S = 300.0
TABLES_AFTER = time(0, 30)
"""Local time after which yesterday's summary tables are made (the day is closed)."""
MAX_CATCH_UP_DAYS = 400
META_TABLES_THROUGH = "summary_tables_through"
META_ISSUE_THROUGH = "summary_issue_through"
DEADLINE_MARK = "ledger_deadline:"
"""Alarm-store meta key prefix: the deadline notice for this record version went out."""


# -- the queue as health shows it ----------------------------------------------------------


# -- upload --------------------------------------------------------------------------------


class UploadTask:
    """Sends due records; backs off while the platform is down."""

    def __init__(self, book: LedgerBook, settings: LedgerSettings, clock: Clock) -> None:
        self.book = book
        self.settings = settings
        self.clock = clock
        self.backoff = Backoff(settings.retry_initial_s, settings.retry_max_s)
        self.last_error: str | None = None
        self.feedback_error: str | None = None
        self.failures = 0
        self.next_attempt_at: datetime | None = None

    def _headers(self) -> dict[str, str]:
        token = self.settings.platform_token
        return {} if token is None else {"Authorization": f"Bearer {token.get_secret_value()}"}

    async def run(self) -> None:
        async with aiohttp.ClientSession(headers=self._headers()) as session:
            while True:
                self.book.queued.clear()
                healthy = await self.attempt(session)
                now = self.clock.now()
                wait_s = self._idle_wait(now) if healthy else self.backoff.next_delay()
                self.next_attempt_at = now + timedelta(seconds=wait_s)
                wake = self.book.queued if healthy and self.settings.realtime else None
                await _sleep_or(self.clock, wait_s, wake)

    async def attempt(self, session: aiohttp.ClientSession) -> bool:
        """One round of `send_due`; False when the platform is down (or the round failed)."""
        try:
            outcome = await self.book.uploader.send_due(session)
        except LedgerError as error:
            self.failures += 1
            self.last_error = str(error)
            log.warning("upload round failed, will retry: %s", error)
            return False
        if outcome.platform_down:
            self.failures += 1
            self.last_error = outcome.detail
            if self.failures == 1:
                log.warning("provincial platform down, records stay queued: %s", outcome.detail)
            return False
        if self.failures:
            log.info("provincial platform reachable again after %d failure(s)", self.failures)
        self.failures = 0
        self.last_error = None
        self.backoff.reset()
        if outcome.sent:
            log.info(
                "upload: %d record(s) sent, %d accepted, %d rejected",
                outcome.sent,
                outcome.accepted,
                outcome.rejected,
            )
        await self._fetch_feedback(session)
        return True

    async def _fetch_feedback(self, session: aiohttp.ClientSession) -> None:
        """The platform's later verdicts; a failure is logged once and tried next round."""
        try:
            accepted, rejected = await self.book.uploader.fetch_feedback(session)
        except LedgerError as error:
            if self.feedback_error is None:
                log.warning("platform feedback not fetched, will retry: %s", error)
            self.feedback_error = str(error)
            return
        self.feedback_error = None
        if accepted or rejected:
            log.info("platform feedback: %d accepted, %d rejected", accepted, rejected)

    def _idle_wait(self, now: datetime) -> float:
        if self.settings.realtime:
            return self.settings.poll_s
        return min(self.settings.poll_s, _until_local(now, WINDOW_START))


def _until_local(now: datetime, at: time) -> float:
    """Seconds from `now` to the next local (China) time of day `at` (a minute at least)."""
    local = now.astimezone(CLINIC_TZ)
    target = datetime.combine(local.date(), at, CLINIC_TZ)
    if target <= local:
        target += timedelta(days=1)
    return max((target - local).total_seconds(), 60.0)


async def _sleep_or(clock: Clock, seconds: float, event: asyncio.Event | None) -> None:
    """Sleep `seconds` of clock time, or less if `event` is set meanwhile."""
    if event is None:
        await clock.sleep(seconds)
        return
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait((sleeper, waiter), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, waiter):
            task.cancel()
        await asyncio.gather(sleeper, waiter, return_exceptions=True)


# -- deadline alarm ------------------------------------------------------------------------


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


# -- daily summary tables and 汇总出库 -------------------------------------------------------


def _table_json(table: SummaryTable) -> dict[str, Any]:
    return {
        "day": table.day.isoformat(),
        "by": table.by,
        "zero_report": table.zero_report,
        "due_at": table.due_at.isoformat(),
        "rows": [
            {
                "manufacturer_code": manufacturer,
                "group": group,
                "dose": dose,
                "today": table.today.get((manufacturer, group, dose), 0),
                "cumulative": count,
            }
            for (manufacturer, group, dose), count in sorted(table.cumulative.items())
        ],
    }


def _table_from_json(data: Mapping[str, Any]) -> SummaryTable:
    today: dict[Key, int] = {}
    cumulative: dict[Key, int] = {}
    for row in data["rows"]:
        key = (str(row["manufacturer_code"]), str(row["group"]), int(row["dose"]))
        cumulative[key] = int(row["cumulative"])
        if row["today"]:
            today[key] = int(row["today"])
    return SummaryTable(date.fromisoformat(data["day"]), str(data["by"]), today, cumulative)


def stored_tables(db: LedgerDB, day: date) -> dict[str, SummaryTable] | None:
    """The summary tables of `day` as produced by the daily task, or None if not yet."""
    text = read_meta(db, f"summary_tables:{day.isoformat()}")
    if text is None:
        return None
    return {by: _table_from_json(data) for by, data in json.loads(text).items()}


class DailyJobs:
    """Summary tables of each closed day, and each clinic day's 汇总出库; catches up."""

    def __init__(self, book: LedgerBook, settings: LedgerSettings, clock: Clock, actor: str):
        self.book = book
        self.settings = settings
        self.clock = clock
        self.actor = actor
        self.last_error: str | None = None

    async def run(self) -> None:
        while True:
            try:
                self.catch_up(self.clock.now())
                self.last_error = None
            except LedgerError as error:
                if self.last_error is None:
                    log.warning("daily ledger jobs failed, will retry: %s", error)
                self.last_error = str(error)
            await self.clock.sleep(DAILY_CHECK_S)

    def catch_up(self, now: datetime) -> None:
        local = now.astimezone(CLINIC_TZ)
        closed = local.date() - timedelta(days=1 if local.time() >= TABLES_AFTER else 2)
        self._tables_through(closed)
        issue_hour = time(self.settings.summary_issue_hour)
        done = local.date() - timedelta(days=0 if local.time() >= issue_hour else 1)
        self._issues_through(done)

    def _first_day(
        self, key: str, first_at: Callable[[LedgerDB], datetime | None], last: date
    ) -> date:
        through = read_meta(self.book.db, key)
        if through is not None:
            return date.fromisoformat(through) + timedelta(days=1)
        at = first_at(self.book.db)
        first = last if at is None else at.astimezone(CLINIC_TZ).date()
        return max(first, last - timedelta(days=MAX_CATCH_UP_DAYS))

    def _tables_through(self, last: date) -> None:
        day = self._first_day(META_TABLES_THROUGH, first_vaccination_at, last)
        if day > last:
            return
        records = self.book.vaccinations.current_records()
        yesterday = stored_tables(self.book.db, day - timedelta(days=1))
        while day <= last:
            tables = daily_tables(records, day, self.book.tables, yesterday)
            body = json.dumps({by: _table_json(t) for by, t in tables.items()}, ensure_ascii=False)
            write_meta(
                self.book.db,
                {f"summary_tables:{day.isoformat()}": body, META_TABLES_THROUGH: day.isoformat()},
            )
            log.info(
                "summary tables of %s made%s",
                day,
                " (zero report)" if tables["age_group"].zero_report else "",
            )
            yesterday = tables
            day += timedelta(days=1)

    def _issues_through(self, last: date) -> None:
        day = self._first_day(META_ISSUE_THROUGH, first_administration_at, last)
        while day <= last:
            issue = self.book.stock.close_day(day, actor=self.actor)
            write_meta(self.book.db, {META_ISSUE_THROUGH: day.isoformat()})
            if not issue.duplicate:
                log.info(
                    "汇总出库 of %s: %d dose(s) over %d batch(es)",
                    day,
                    sum(issue.lines.values()),
                    len(issue.lines),
                )
            day += timedelta(days=1)


# -- together ------------------------------------------------------------------------------


class LedgerJobs:
    """The ledger's scan listener and tasks on a running gateway, and their health."""

    def __init__(
        self,
        book: LedgerBook,
        settings: Settings,
        clock: Clock,
        alarms: AlarmService | None,
        acts_for: ActsFor,
        *,
        locations: StockLocations | None = None,
    ) -> None:
        ledger = settings.ledger
        if ledger is None:
            raise ConfigError("the ledger tasks need a [ledger] section (fix: add one)")
        self.book = book
        self.ledger = ledger
        self.clock = clock
        self.scans = LedgerScans(book, ledger, clock, acts_for, locations)
        self.upload = UploadTask(book, ledger, clock)
        self.deadline = DeadlineWatch(book, settings, clock, alarms)
        self.daily = DailyJobs(book, ledger, clock, actor=f"gateway {settings.gateway.number}")
        if alarms is None:
            log.warning(
                "ledger without [alerts]: the vaccine manager is not told of upload deadlines"
            )

    def tasks(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        return [
            ("ledger:upload", self.upload.run()),
            ("ledger:deadline", self.deadline.run()),
            ("ledger:daily", self.daily.run()),
        ]

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "upload_mode": self.ledger.upload,
            "upload_failures": self.upload.failures,
            "upload_error": self.upload.last_error,
            "next_upload_at": _iso(self.upload.next_attempt_at),
            "records_at_risk": len(self.deadline.at_risk),
            "deadline_notified": self.deadline.notified,
            "deadline_problem": self.deadline.problem,
            "daily_error": self.daily.last_error,
            "catalogue_problems": list(self.book.catalogue_problems),
            "scans": self.scans.health(),
        }
        try:
            return body | self._stored(self.clock.now())
        except LedgerError as error:
            return body | {"ledger_error": str(error)}

    def _stored(self, now: datetime) -> dict[str, Any]:
        stats = queue_stats(self.book.db)
        oldest = stats.oldest_at
        return {
            "queue_length": stats.pending,
            "oldest_pending_at": _iso(oldest),
            "oldest_pending_age_s": None
            if oldest is None
            else round((now - oldest).total_seconds(), 1),
            "last_upload": None
            if stats.last_attempt_at is None
            else {
                "at": _iso(stats.last_attempt_at),
                "records": stats.last_attempt_records,
                "outcome": stats.last_outcome,
            },
            "rejected": len(self.book.uploader.rejections()),
            "summary_tables_through": read_meta(self.book.db, META_TABLES_THROUGH),
            "summary_issue_through": read_meta(self.book.db, META_ISSUE_THROUGH),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
