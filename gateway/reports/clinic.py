"""The same monthly report for one clinic, from the gateway's own stores.

Placement, ranges and sampling intervals come from the gateway's settings (each probe's
compartment range and poll interval), so the clinic report needs no range file. Readings
taken before the gateway's clock was synchronised (`clock_synced=False`) are left out and
counted in a note. The doses exposed come from the gateway's ledger file, mapped as the
exposure forwarder maps them (`gateway.forward.exposure_events`); a gateway without a ledger
reports none (the column is left out). Reading the SQLite stores is blocking: pages of `PAGE`
readings, yielding to the event loop between pages so that a scheduled report never stalls the
gateway's alarms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.alarm_events import AlarmEvent, fold_alarms
from analysis.errors import ReportError
from analysis.metrics import DEFAULT_LIMITS, Limits, SeriesAccumulator
from analysis.period import month_bounds
from analysis.report import ExposedDoses, Place, ProbeFigures, Report, build_report
from gateway.storage.readings import ReadingStore, from_millis, to_millis
from gateway.storage.registry import ALARMS, LEDGER, READINGS
from probes.reading import STATUS_CODES

if TYPE_CHECKING:
    from gateway.settings import Settings

PAGE = 5000
ACK_GRACE = timedelta(days=7)


async def clinic_report(
    settings: Settings,
    data_dir: Path,
    month: str,
    step: Callable[[str], None] | None = None,
) -> Report:

    start, end = month_bounds(month)
    since, until = from_millis(start), from_millis(end)
    region, unit = settings.unit.region_code, settings.unit.code
    figures: list[ProbeFigures] = []
    unsynced = 0
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
                    if not reading.clock_synced:
                        unsynced += 1
                        continue
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
    notes = [f"{unsynced} 个读数采集时网关时钟未同步，未计入"] if unsynced else []
    return build_report(
        figures,
        fold_alarms(events, start, end),
        title=f"{settings.unit.name} 冷链设备月度报告",
        month=month,
        scope=f"单位 {unit}（区域 {region}）",
        start_ms=start,
        end_ms=end,
        interval_s=min((p.interval_s for p in settings.probes), default=60.0),
        notes=notes,
        exposures=_exposures(data_dir, settings, since, until),
    )


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
