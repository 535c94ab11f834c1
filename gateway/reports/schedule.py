"""The clinic's monthly report, on the 1st of each month at 06:00 Asia/Shanghai.

APScheduler's `CronTrigger` computes the next fire time (time zones, month lengths); the
waiting itself is done on the injected `gateway.core.clock.Clock`, so tests move a `FakeClock`
instead of sleeping and no scheduler thread or second event loop is started. The report
covers the month that just ended.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from apscheduler.triggers.cron import CronTrigger

from analysis.errors import ReportError
from gateway.core.clinic_time import CLINIC_TZ, previous_month

if TYPE_CHECKING:
    from gateway.core.clock import Clock
    from gateway.settings import Settings

log = logging.getLogger(__name__)

MONTHLY = CronTrigger(day=1, hour=6, minute=0, timezone=CLINIC_TZ)


def next_fire(now: datetime, trigger: CronTrigger = MONTHLY) -> datetime:
    """The first fire time strictly after `now` (timezone-aware)."""
    fire: datetime | None = trigger.get_next_fire_time(None, now)
    if fire is not None and fire <= now:  # now is exactly a fire time: that one has run
        fire = trigger.get_next_fire_time(None, fire + timedelta(seconds=1))
    if fire is None:
        raise RuntimeError("the monthly trigger has no next fire time")
    return fire


async def run_monthly_reports(
    settings: Settings, clock: Clock, out_dir: Path, trigger: CronTrigger = MONTHLY
) -> None:
    """Forever: wait for the next fire time on `clock`, then write last month's report into
    `out_dir/YYYY-MM/`. A failed report is logged and retried at the next fire time."""
    from analysis.csv_out import write_csvs
    from analysis.html import write_html
    from gateway.reports.clinic import clinic_report

    while True:
        now = clock.now()
        fire = next_fire(now, trigger)
        await clock.sleep((fire - now).total_seconds())
        month = previous_month(fire)
        folder = out_dir / month
        try:
            report = await clinic_report(settings, settings.gateway.data_dir, month)
            write_html(report, folder / f"report-{month}.html")
            write_csvs(report, folder)
        except (ReportError, OSError):
            log.exception("monthly report %s not written", month)
        else:
            log.info("monthly report %s written to %s", month, folder)
