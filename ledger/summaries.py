"""Daily summary tables (汇总表), pure: given the records, the day and yesterday's table.

Two tables per day: by age group and by crowd category, each per manufacturer, doses 1–3:
today's count, and cumulative = yesterday's cumulative + today. Nothing given is a zero report
(the table still goes out). The report for a day is due at 12:00 local time the next day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from gateway.core.clinic_time import CLINIC_TZ
from ledger.tables import ReferenceTables
from ledger.vaccination_records import NORMAL, DoseRecord

DOSES = (1, 2, 3)
Key = tuple[str, str, int]  # (manufacturer, group, dose)


@dataclass(frozen=True, slots=True)
class SummaryTable:
    day: date
    by: str  # "age_group" or "crowd_category"
    today: Mapping[Key, int]
    cumulative: Mapping[Key, int]

    @property
    def zero_report(self) -> bool:
        return not any(self.today.values())

    @property
    def due_at(self) -> datetime:
        return datetime.combine(self.day + timedelta(days=1), time(12), CLINIC_TZ)


def daily_tables(
    records: Iterable[DoseRecord], day: date, tables: ReferenceTables,
    yesterday: Mapping[str, SummaryTable] | None = None,
) -> dict[str, SummaryTable]:  # fmt: skip
    """Both tables for `day`; `records` are the latest versions (deleted ones are skipped)."""
    by_age: Counter[Key] = Counter()
    by_crowd: Counter[Key] = Counter()
    for record in records:
        local = record.vaccinated_at.astimezone(CLINIC_TZ).date()
        if record.status != NORMAL or local != day or record.dose_no not in DOSES:
            continue
        years = _age_years(record.recipient.birth_date, local)
        manufacturer = record.manufacturer_code
        by_age[(manufacturer, tables.age_group(years), record.dose_no)] += 1
        by_crowd[(manufacturer, record.recipient.crowd_category, record.dose_no)] += 1
    result = {}
    for by, counts in (("age_group", by_age), ("crowd_category", by_crowd)):
        before = yesterday[by].cumulative if yesterday and by in yesterday else {}
        cumulative = Counter(before)
        cumulative.update(counts)
        result[by] = SummaryTable(day, by, dict(counts), dict(cumulative))
    return result


def _age_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
