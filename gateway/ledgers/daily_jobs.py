"""``ledger:daily``: each day's summary tables and the day's 汇总出库, caught up after a
restart; see `gateway.ledgers.tasks`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import Clock
from gateway.ledgers.book import LedgerBook
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.queries import (
    first_administration_at,
    first_vaccination_at,
    read_meta,
    write_meta,
)
from ledger.errors import LedgerError
from ledger.settings import LedgerSettings
from ledger.summaries import Key, SummaryTable, daily_tables

log = logging.getLogger(__name__)

DAILY_CHECK_S = 300.0
TABLES_AFTER = time(0, 30)
"""Local time after which yesterday's summary tables are made (the day is closed)."""
MAX_CATCH_UP_DAYS = 400
META_TABLES_THROUGH = "summary_tables_through"
META_ISSUE_THROUGH = "summary_issue_through"


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
