"""The clinics' time zone and the local days and months that reports and digests cover.

Every clinic served keeps China Standard Time; days and months begin at local midnight.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

CLINIC_TZ = ZoneInfo("Asia/Shanghai")


def day_bounds(day: date, tz: ZoneInfo = CLINIC_TZ) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)


def month_bounds(year: int, month: int, tz: ZoneInfo = CLINIC_TZ) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar month."""
    start = datetime(year, month, 1, tzinfo=tz)
    return start, datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)


def previous_month(moment: datetime, tz: ZoneInfo = CLINIC_TZ) -> str:
    """`YYYY-MM` of the month before the one `moment` falls in (local time)."""
    local = moment.astimezone(tz).replace(day=1) - timedelta(days=1)
    return f"{local.year:04d}-{local.month:02d}"
