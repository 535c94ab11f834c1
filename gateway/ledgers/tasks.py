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

Each task is its own module (`upload_task`, `deadline_watch`, `daily_jobs`); `LedgerJobs` runs
them together with the scan stations and reports their health. All waiting is on the
gateway's `Clock`.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gateway.core.clock import Clock
from gateway.core.errors import ConfigError
from gateway.ledgers.book import LedgerBook
from gateway.ledgers.daily_jobs import META_ISSUE_THROUGH, META_TABLES_THROUGH, DailyJobs
from gateway.ledgers.deadline_watch import DeadlineWatch
from gateway.ledgers.scans import ActsFor, LedgerScans
from gateway.ledgers.upload_task import UploadTask
from gateway.settings import Settings
from gateway.storage.ledger.locations import StockLocations
from gateway.storage.ledger.queries import queue_stats, read_meta
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from gateway.alarms.engine import AlarmService

log = logging.getLogger(__name__)


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
