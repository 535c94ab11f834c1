"""The same monthly report for one clinic, from the gateway's own stores.

Placement, ranges and sampling intervals come from the gateway's settings (each probe's
compartment range and poll interval), so the clinic report needs no range file. Every reading
counts: one stamped while the gateway's clock was not synchronised was moved to its corrected
time when the correction was known (`time_corrected`), and counts there; one whose correction
is not known (`clock_synced=False`) counts at the time it was stamped, flagged: the notes say
how many of each and what that means, and when most of the month is flagged (or there is no
reading at all) the report says so at the top (its doubts; `report --strict` fails on them).
The manual-record compliance comes from the month's twice-daily thermometer records, the
twice-daily system check (seed 002: responsible people look at the system twice a day, 6 h
apart) from the looks kept in the checks store, as a note with the days met. The doses
exposed come from the gateway's ledger file, mapped as the exposure forwarder maps them
(`gateway.forward.exposure_events`); a gateway without a ledger reports none (the column is
left out). Reading the SQLite stores is blocking: pages of `PAGE`
readings, yielding to the event loop between pages so that a scheduled report never stalls the
gateway's alarms.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.accumulator import SeriesAccumulator
from analysis.alarm_events import AlarmEvent, fold_alarms
from analysis.errors import ReportError
from analysis.metrics import DEFAULT_LIMITS, Limits
from analysis.period import month_bounds
from analysis.report import (
    ExposedDoses,
    ManualRecords,
    Place,
    ProbeFigures,
    Report,
    build_report,
    fridge_key,
)
from gateway.checks.manual_readings import HalfDay
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.compartments import compartment_refs
from gateway.storage.readings import ReadingStore, from_millis, to_millis
from gateway.storage.registry import ALARMS, CHECKS, LEDGER, READINGS
from probes.reading import STATUS_CODES

if TYPE_CHECKING:
    from gateway.settings import Settings

PAGE = 5000
ACK_GRACE = timedelta(days=7)
#: More than this share of a month's readings flagged unsynchronised is a doubt on the report.
MOSTLY_UNSYNCED = 0.5


@dataclass(slots=True)
class _Tally:
    """How the month's readings were stamped."""

    total: int = 0
    corrected: int = 0
    unsynced: int = 0

    def notes(self) -> list[str]:
        notes = []
        if self.corrected:
            notes.append(
                f"{self.corrected} 个读数采集时网关时钟未同步，时钟同步后已按偏差校正时间并计入。"
            )
        if self.unsynced:
            notes.append(
                f"{self.unsynced} 个读数（占 {self.share:.1%}）采集时网关时钟未同步且无法校正："
                "已按记录时间计入统计并标记；其时间可能有偏差，完整率、超范围时长和报警时间"
                "以这些时间计算，仅供参考。"
            )
        return notes

    def doubts(self) -> list[str]:
        if self.total and self.share > MOSTLY_UNSYNCED:
            return [
                f"本月多数读数（{self.share:.0%}，{self.unsynced}/{self.total}）在网关时钟未同步时"
                "采集且无法校正，报告中的时间和时长可能不准；请为网关配置时间同步（NTP）。"
            ]
        return []

    @property
    def share(self) -> float:
        return self.unsynced / self.total if self.total else 0.0


async def clinic_report(
    settings: Settings,
    data_dir: Path,
    month: str,
    step: Callable[[str], None] | None = None,
    now: datetime | None = None,
) -> Report:
    """`now` (default: the wall clock) bounds the half-days the manual record was due."""
    start, end = month_bounds(month)
    since, until = from_millis(start), from_millis(end)
    region, unit = settings.unit.region_code, settings.unit.code
    figures: list[ProbeFigures] = []
    tally = _Tally()
    with ReadingStore(data_dir / READINGS.file) as store:
        for probe in settings.probes:
            fridge, compartment = settings.compartment(probe.compartment)
            kind = str(compartment.kind)
            limits = Limits(compartment.min_c, compartment.max_c, DEFAULT_LIMITS[kind].who)
            acc = SeriesAccumulator(limits, start, end, int(probe.interval_s * 1000))
            cursor: datetime = since
            while True:
                page = store.readings(probe.code, cursor, until, PAGE)
                for item in page:
                    reading = item.reading
                    tally.total += 1
                    tally.corrected += item.time_corrected
                    tally.unsynced += not reading.clock_synced
                    acc.add(
                        to_millis(reading.taken_at),
                        reading.temperature,
                        STATUS_CODES[reading.status],
                    )
                if len(page) < PAGE:
                    break
                cursor = page[-1].reading.taken_at + timedelta(milliseconds=1)
                await asyncio.sleep(0)
            place = Place(region, unit, fridge.code, compartment.name, kind)
            figures.append(ProbeFigures(place, probe.code, acc.finish()))
            if step:
                step(probe.code)
    events = _alarm_events(data_dir / ALARMS.file, settings, since, until)
    report = build_report(
        figures,
        fold_alarms(events, start, end),
        title=f"{settings.unit.name} 冷链设备月度报告",
        month=month,
        scope=f"单位 {unit}（区域 {region}）",
        start_ms=start,
        end_ms=end,
        interval_s=min((p.interval_s for p in settings.probes), default=60.0),
        notes=[
            *tally.notes(),
            *system_check_notes(data_dir, since, min(until, now or datetime.now(UTC))),
        ],
        exposures=_exposures(data_dir, settings, since, until),
        doubts=tally.doubts(),
        manual=manual_records(data_dir, settings, since, min(until, now or datetime.now(UTC))),
    )
    report.names |= {fridge_key(unit, fridge.code): fridge.name for fridge in settings.fridges}
    return report


def system_check_notes(data_dir: Path, since: datetime, until: datetime) -> list[str]:
    """The month's twice-daily system check as a note: days met of days due, and which not."""
    from gateway.checks.system_checks import day_checks
    from gateway.storage.checks import ChecksStore

    path = data_dir / CHECKS.file
    if not path.is_file() or since > until:
        return []
    with ChecksStore(path, until) as store:
        looks = store.looks(since, until)
    first, last = (moment.astimezone(CLINIC_TZ).date() for moment in (since, until))
    days = day_checks(looks, first, last)
    missed = [day.day.strftime("%m-%d") for day in days if not day.met]
    met = len(days) - len(missed)
    text = f"系统检查（每日至少登录两次，间隔6小时）：{met}/{len(days)} 天达到"
    return [f"{text}；未达到：{'、'.join(missed)}" if missed else text]


def manual_records(
    data_dir: Path, settings: Settings, since: datetime, until: datetime
) -> dict[tuple[str, str, str], ManualRecords]:
    """Per compartment: the half-days of [since, until] whose manual record was due (from
    the checks store's first opening on), and how many have it."""
    from gateway.checks.manual_readings import due_at, missing
    from gateway.storage.checks import ChecksStore

    refs = compartment_refs(settings.fridges)
    recorded: set[tuple[str, date, HalfDay]] = set()
    path = data_dir / CHECKS.file
    if path.is_file():
        with ChecksStore(path, until) as store:
            since = max(since, store.first_opened_at)
            first, last = (moment.astimezone(CLINIC_TZ).date() for moment in (since, until))
            recorded = {
                key
                for key in store.manual_days(first, last)
                if since <= due_at(key[1], key[2]) <= until
            }
    absent = Counter(gap.compartment for gap in missing(recorded, refs, since, until))
    have = Counter(ref for ref, _, _ in recorded)
    records: dict[tuple[str, str, str], ManualRecords] = {}
    for fridge in settings.fridges:
        for compartment in fridge.compartments:
            ref = fridge.ref(compartment)
            key = (settings.unit.code, fridge.code, compartment.name)
            records[key] = ManualRecords(have[ref], have[ref] + absent[ref])
    return records


def _exposures(
    data_dir: Path, settings: Settings, since: datetime, until: datetime
) -> list[ExposedDoses] | None:
    """The doses exposed by the excursions that began in the month; None without a ledger."""
    from gateway.core.clock import SystemClock
    from gateway.core.errors import StoreError
    from gateway.ledgers.excursion_service import ledger_exposures
    from gateway.storage.ledger.db import LedgerDB
    from ledger.errors import LedgerError

    if not (data_dir / LEDGER.file).is_file():
        return None
    try:
        with LedgerDB.in_folder(data_dir) as db:
            events = ledger_exposures(db, settings, SystemClock()).started_between(since, until)
    except (LedgerError, StoreError) as error:
        raise ReportError(
            f"the ledger {data_dir / LEDGER.file} cannot be read for the doses exposed: {error} "
            "(fix: check the disk, or restore the file from a backup)"
        ) from None
    region, unit = settings.unit.region_code, settings.unit.code
    return [ExposedDoses(region, unit, e.fridge, e.compartment, e.doses) for e in events]


def _alarm_events(
    path: Path, settings: Settings, since: datetime, until: datetime
) -> list[AlarmEvent]:
    """The gateway's alarm transitions, mapped as the forwarder maps them to InfluxDB."""
    from gateway.forward.alarm_events import events_from
    from gateway.storage.alarms import AlarmStore

    if not path.exists():
        return []
    with AlarmStore(path) as store:
        rows = store.alarms_opened_between(since, until + ACK_GRACE)
        by_id = {row.id: row for row in rows}
        transitions = store.transitions_for(sorted(by_id))
    unit, region = settings.unit.code, settings.unit.region_code
    return [
        AlarmEvent(
            to_millis(event.at),
            event.alarm,
            event.event,
            event.condition,
            unit,
            region,
            event.fridge or "",
            event.compartment or "",
            event.tier,
            event.who,
        )
        for event in events_from(transitions, by_id)
    ]
