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


#: The years a month may be in: its first day and the day after it are dates, in UTC too.
MONTH_YEARS = range(1971, 2999)


def parse_month(text: str) -> tuple[int, int]:
    """`YYYY-MM` (ASCII digits) as (year, month); ValueError saying what is wrong."""
    year, dash, month = text.partition("-")
    digits = f"{year}{month}"
    if not (dash and len(year) == 4 and len(month) == 2 and digits.isascii() and digits.isdigit()):
        raise ValueError(f"{text!r} is not a month; write YYYY-MM, e.g. 2026-04")
    if not 1 <= int(month) <= 12:
        raise ValueError(f"{text!r}: the month of YYYY-MM must be 01 to 12")
    if int(year) not in MONTH_YEARS:
        raise ValueError(
            f"{text!r}: the year of YYYY-MM must be {MONTH_YEARS[0]} to {MONTH_YEARS[-1]}"
        )
    return int(year), int(month)


def month_bounds(year: int, month: int, tz: ZoneInfo = CLINIC_TZ) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar month."""
    start = datetime(year, month, 1, tzinfo=tz)
    return start, datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)


def previous_month(moment: datetime, tz: ZoneInfo = CLINIC_TZ) -> str:
    """`YYYY-MM` of the month before the one `moment` falls in (local time)."""
    local = moment.astimezone(tz).replace(day=1) - timedelta(days=1)
    return f"{local.year:04d}-{local.month:02d}"
