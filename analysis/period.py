"""A report month: `YYYY-MM` to [start, end) in ms, months beginning at local midnight."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from analysis.errors import ReportError

TIMEZONE = ZoneInfo("Asia/Shanghai")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month_bounds(month: str, tz: ZoneInfo = TIMEZONE) -> tuple[int, int]:
    """(start ms, end ms) of a month given as `YYYY-MM`, in the clinics' time zone."""
    match = _MONTH.match(month)
    if not match or not 1 <= int(match[2]) <= 12:
        raise ReportError(f"--month {month!r}: write the month as YYYY-MM, e.g. 2026-10")
    year, number = int(match[1]), int(match[2])
    start = datetime(year, number, 1, tzinfo=tz)
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def previous_month(moment: datetime, tz: ZoneInfo = TIMEZONE) -> str:
    """`YYYY-MM` of the month before the one `moment` falls in (local time)."""
    local = moment.astimezone(tz).replace(day=1) - timedelta(days=1)
    return f"{local.year:04d}-{local.month:02d}"


def local_text(ms: int | None, tz: ZoneInfo = TIMEZONE) -> str:
    """`MM-DD HH:MM` local time of a timestamp, or an empty string."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%m-%d %H:%M")
