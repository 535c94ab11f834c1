"""A report month: `YYYY-MM` to [start, end) in ms, months beginning at local midnight."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from analysis.errors import ReportError
from gateway.core import clinic_time
from gateway.core.clinic_time import CLINIC_TZ

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month_bounds(month: str, tz: ZoneInfo = CLINIC_TZ) -> tuple[int, int]:
    """(start ms, end ms) of a month given as `YYYY-MM`, in the clinics' time zone."""
    match = _MONTH.match(month)
    if not match or not 1 <= int(match[2]) <= 12:
        raise ReportError(f"--month {month!r}: write the month as YYYY-MM, e.g. 2026-10")
    start, end = clinic_time.month_bounds(int(match[1]), int(match[2]), tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def local_text(ms: int | None, tz: ZoneInfo = CLINIC_TZ) -> str:
    """`MM-DD HH:MM` local time of a timestamp, or an empty string."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%m-%d %H:%M")
