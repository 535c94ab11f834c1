"""A report month: `YYYY-MM` to [start, end) in ms, months beginning at local midnight."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from analysis.errors import ReportError
from gateway.core import clinic_time
from gateway.core.clinic_time import CLINIC_TZ


def month_bounds(month: str, tz: ZoneInfo = CLINIC_TZ) -> tuple[int, int]:
    """(start ms, end ms) of a month given as `YYYY-MM`, in the clinics' time zone."""
    try:
        year, number = clinic_time.parse_month(month)
    except ValueError as error:
        raise ReportError(f"--month {error}") from None
    start, end = clinic_time.month_bounds(year, number, tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def local_text(ms: int | None, tz: ZoneInfo = CLINIC_TZ) -> str:
    """`MM-DD HH:MM` local time of a timestamp, or an empty string."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%m-%d %H:%M")
