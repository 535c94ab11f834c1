"""The county report from the central InfluxDB.

1. The probes come from the series index (`SHOW SERIES FROM coldchain`), so a probe that sent
   nothing this month still shows -- as "no data", 0 % complete.
2. Readings stream one probe's month at a time (`SELECT temperature, status, clock_synced ...
   WHERE` its placement tags, chunked), two probes at once so that influxd prepares one while
   this process folds the other, each folded by `accumulator.SeriesAccumulator.add_rows`:
   constant memory per probe. A query per probe costs influxd about half the CPU a point of
   one query over every probe of the day (measured with influxd 1.6: merging hundreds of
   series by time is what costs; a county of 400 probes is 400 queries).
   Raw points are needed for MKT (per-reading exp terms), sample-and-hold minutes, excursion
   runs and the WHO consecutive-duration rules; count, mean, min and max alone would be exact
   under server-side aggregation (`count()`, `mean()`, `min()`, `max()` keep their time with
   no GROUP BY time), but then every other figure would need the raw points anyway.
3. Alarm events come from `coldchain_alarm` for the month plus `ACK_GRACE` after it (an alarm
   opened on the last evening may be acknowledged after midnight).
4. Doses exposed come from `coldchain_exposure` (one point per excursion and vaccine, at the
   excursion's start), summed per compartment, fridge, clinic and region.

`county_daily_report` reads the gateways' daily figures (`coldchain_daily`, see
`analysis.daily`) instead of step 2: a few dozen numbers per probe and day instead of 1,440
points, with the same figures. The raw-point report stays for auditing one clinic or fridge.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from analysis.accumulator import SeriesAccumulator
from analysis.alarm_events import MEASUREMENT as ALARMS
from analysis.alarm_events import AlarmEvent, AlarmFacts, fold_alarms
from analysis.daily import FIELDS as DAILY_FIELDS
from analysis.daily import MANUAL, ManualFold, MonthFold, day_starts, late_clinics
from analysis.daily import MEASUREMENT as DAILY
from analysis.doubts import county_doubts
from analysis.errors import UnknownRegionError
from analysis.influxql import InfluxQL, quote_string
from analysis.period import month_bounds
from analysis.ranges import RangeKey, limits_for
from analysis.report import (
    ExposedDoses,
    Place,
    ProbeFigures,
    Report,
    attach_curves,
    build_report,
    curve_of,
)

READINGS = "coldchain"
EXPOSURES = "coldchain_exposure"
DAY_MS = 86_400_000
ACK_GRACE_MS = 7 * DAY_MS
QUERIES_AT_ONCE = 2
"""Probes read at once: influxd prepares one while this process folds the other."""
PLACEMENT = ("region", "unit", "fridge", "compartment", "kind", "probe")
_SPLIT_COMMA = re.compile(r"(?<!\\),")
_SPLIT_EQUALS = re.compile(r"(?<!\\)=")

ProbeKey = tuple[str, str, str, str, str, str]
StepCallback = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class CountyOptions:
    month: str
    region: str | None = None
    interval_s: float = 60.0
    max_gap_s: float = 0.0
    ranges: Mapping[RangeKey, tuple[float | None, float | None]] | None = None
    title: str = "冷链设备月度分析报告"


def _unescape(text: str) -> str:
    return text.replace("\\,", ",").replace("\\ ", " ").replace("\\=", "=")


def parse_series_key(key: str) -> dict[str, str]:
    """Tags of a `SHOW SERIES` key such as `coldchain,fridge=F1,unit=6101030203`."""
    parts = _SPLIT_COMMA.split(key)
    tags: dict[str, str] = {}
    for part in parts[1:]:
        name, _, value = _split_tag(part)
        tags[_unescape(name)] = _unescape(value)
    return tags


def _split_tag(part: str) -> tuple[str, str, str]:
    name, value = [*_SPLIT_EQUALS.split(part, maxsplit=1), ""][:2]
    return name, "=", value


def _probe_key(tags: Mapping[str, str]) -> ProbeKey:
    return (
        tags.get("region", ""),
        tags.get("unit", ""),
        tags.get("fridge", ""),
        tags.get("compartment", ""),
        tags.get("kind", ""),
        tags.get("probe", ""),
    )


def _where_region(region: str | None) -> str:
    return f" AND region = {quote_string(region)}" if region else ""


async def known_regions(client: InfluxQL) -> list[str]:
    rows = await client.rows(f'SHOW TAG VALUES FROM "{READINGS}" WITH KEY = "region"')
    return sorted(str(row["value"]) for row in rows)


async def known_probes(
    client: InfluxQL, region: str | None, measurement: str = READINGS
) -> list[ProbeKey]:
    where = f" WHERE region = {quote_string(region)}" if region else ""
    rows = await client.rows(f'SHOW SERIES FROM "{measurement}"{where}')
    return sorted({_probe_key(parse_series_key(str(row["key"]))) for row in rows})


async def county_report(
    client: InfluxQL, options: CountyOptions, step: StepCallback | None = None
) -> Report:
    """Query, fold and assemble; `step` is called once per day window and per phase."""
    start, end = month_bounds(options.month)
    notes: list[str] = []
    if options.region:
        regions = await known_regions(client)
        if options.region not in regions:
            raise UnknownRegionError(
                f"--region {options.region}: no readings carry this region code in database "
                f"{client.db!r} at {client.url}; known region codes: "
                f"{', '.join(regions) or '(none: the readings carry no region tag yet)'}"
            )
    probes = await known_probes(client, options.region)
    if step:
        step("探头清单")
    interval_ms = int(options.interval_s * 1000)
    max_gap_ms = int(options.max_gap_s * 1000)
    ranges = options.ranges or {}
    accumulators: dict[ProbeKey, SeriesAccumulator] = {}
    midnights = day_starts(start, end)[1:]

    def accumulator(key: ProbeKey) -> SeriesAccumulator:
        acc = accumulators.get(key)
        if acc is None:
            limits = limits_for(key[1], key[2], key[3], key[4], ranges)
            acc = accumulators[key] = SeriesAccumulator(
                limits, start, end, interval_ms, max_gap_ms, cuts=midnights
            )
        return acc

    for key in probes:
        accumulator(key)
    windows, folded = day_windows(options.month), 0

    async def fold_probe(key: ProbeKey) -> None:
        nonlocal folded
        async for chunk in client.series(_readings_query(key, start, end)):
            accumulator(_probe_key(chunk.tags)).add_rows(chunk.values)
        folded += 1
        if step:
            for _ in range((folded - 1) * windows // len(probes), folded * windows // len(probes)):
                step("读数")

    await _each(probes, fold_probe, QUERIES_AT_ONCE)
    events = await _alarm_events(client, start, end + ACK_GRACE_MS, options.region)
    alarms = fold_alarms(events, start, end)
    exposures = await _exposures(client, start, end, options.region)
    if step:
        step("报警事件")
    figures = [
        ProbeFigures(Place(*key[:5]), key[5], acc.finish()) for key, acc in accumulators.items()
    ]
    outside = sum(f.stats.outside_period for f in figures)
    if outside:
        notes.append(f"{outside} 个读数时间戳重复或乱序，未计入（时钟偏移）")
    scope = f"区域 {options.region}" if options.region else "全部区域"
    report = build_report(
        figures,
        alarms,
        title=options.title,
        month=options.month,
        scope=scope,
        start_ms=start,
        end_ms=end,
        interval_s=options.interval_s,
        notes=notes,
        exposures=exposures,
    )
    attach_curves(report, lambda place: [
        (f"{key[3]}/{key[5]}", curve_of(acc.periods()))
        for key, acc in sorted(accumulators.items()) if key[:3] == _fridge(place)
    ])  # fmt: skip
    report.doubts += county_doubts(report)
    return report


def _readings_query(key: ProbeKey, start: int, end: int) -> str:
    """One probe's month of readings (the placement is the probe: a replaced gateway's
    series with the same placement fold together, in time order)."""
    where = " AND ".join(
        f'"{tag}" = {quote_string(value)}' for tag, value in zip(PLACEMENT, key, strict=True)
    )
    group = ", ".join(f'"{tag}"' for tag in PLACEMENT)
    return (
        f'SELECT "temperature", "status", "clock_synced" FROM "{READINGS}" '  # noqa: S608
        f"WHERE time >= {start}ms AND time < {end}ms AND {where} GROUP BY {group}"
    )


async def _each(
    items: Sequence[ProbeKey], work: Callable[[ProbeKey], Awaitable[None]], at_once: int
) -> None:
    """`work` on every item, `at_once` at a time; the first failure cancels the rest and is
    raised as it is (a `ReportError` names its fix)."""
    queue = iter(items)

    async def worker() -> None:
        for item in queue:
            await work(item)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(at_once, len(items))):
                group.create_task(worker())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None


async def _exposures(
    client: InfluxQL, start: int, end: int, region: str | None
) -> list[ExposedDoses]:
    query = (
        f'SELECT "doses" FROM "{EXPOSURES}" WHERE time >= {start}ms '  # noqa: S608
        f"AND time < {end}ms{_where_region(region)} GROUP BY *"
    )
    exposures: list[ExposedDoses] = []
    async for chunk in client.series(query):
        tags = chunk.tags
        region_tag, unit = tags.get("region", ""), tags.get("unit", "")
        fridge, compartment = tags.get("fridge", ""), tags.get("compartment", "")
        exposures += [
            ExposedDoses(region_tag, unit, fridge, compartment, int(doses))
            for _, doses in chunk.values
            if doses is not None
        ]
    return exposures


async def _alarm_events(
    client: InfluxQL, start: int, end: int, region: str | None
) -> list[AlarmEvent]:
    query = (
        f'SELECT "alarm", "tier" FROM "{ALARMS}" WHERE time >= {start}ms '  # noqa: S608
        f"AND time < {end}ms{_where_region(region)} GROUP BY *"
    )
    events: list[AlarmEvent] = []
    async for chunk in client.series(query):
        tags = chunk.tags
        for t, alarm, tier in chunk.values:
            if alarm is None:
                continue
            events.append(
                AlarmEvent(
                    t,
                    str(alarm),
                    tags.get("event", ""),
                    tags.get("condition", ""),
                    tags.get("unit", ""),
                    tags.get("region", ""),
                    tags.get("fridge", ""),
                    tags.get("compartment", ""),
                    None if tier is None else int(tier),
                    tags.get("who") or None,
                )
            )
    return events


async def has_daily(client: InfluxQL, region: str | None) -> bool:
    """Whether any gateway (of the region) has sent daily figures."""
    where = f" WHERE region = {quote_string(region)}" if region else ""
    return bool(await client.rows(f'SHOW SERIES FROM "{DAILY}"{where} LIMIT 1'))


async def county_daily_report(
    client: InfluxQL, options: CountyOptions, step: StepCallback | None = None
) -> Report:
    """The county report from the gateways' daily figures (module docstring); the figures
    were measured against each gateway's own compartment ranges and sampling interval."""
    start, end = month_bounds(options.month)
    fold = MonthFold(start, end, max(0, (end - start) // int(options.interval_s * 1000)))
    for key in await known_probes(client, options.region, DAILY):
        fold.probe(key)
    columns = ", ".join(f'"{name}"' for name in DAILY_FIELDS)
    group = ", ".join(f'"{tag}"' for tag in PLACEMENT)
    query = (
        f'SELECT {columns} FROM "{DAILY}" WHERE time >= {start}ms '  # noqa: S608
        f"AND time < {end}ms{_where_region(options.region)} GROUP BY {group}"
    )
    add = fold.add
    async for chunk in client.series(query):
        key = _probe_key(chunk.tags)
        names = chunk.columns[1:]
        for t, *values in chunk.values:
            for name, value in zip(names, values, strict=True):
                add(key, name, t, value)
    manual = ManualFold(start, end)
    query = (
        f'SELECT "recorded", "due" FROM "{MANUAL}" WHERE time >= {start}ms '  # noqa: S608
        f"AND time < {end}ms{_where_region(options.region)} GROUP BY "
        '"unit", "fridge", "compartment"'
    )
    async for chunk in client.series(query):
        where = (chunk.tags.get("unit", ""), chunk.tags.get("fridge", ""),
                 chunk.tags.get("compartment", ""))  # fmt: skip
        for t, recorded, due in chunk.values:
            manual.add(where, "recorded", t, recorded)
            manual.add(where, "due", t, due)
    if step:
        step("每日数据")
    events = await _alarm_events(client, start, end + ACK_GRACE_MS, options.region)
    exposures = await _exposures(client, start, end, options.region)
    if step:
        step("报警事件")
    return daily_report(fold, options, fold_alarms(events, start, end), exposures, manual)


def daily_report(
    fold: MonthFold,
    options: CountyOptions,
    alarms: list[AlarmFacts],
    exposures: list[ExposedDoses] | None,
    manual: ManualFold | None = None,
) -> Report:
    """Assemble a report from folded daily figures (any engine's), naming late clinics; the
    manual record's compliance when the gateways sent it."""
    start, end = fold.start_ms, fold.end_ms
    months = fold.months()
    figures = [ProbeFigures(Place(*key[:5]), key[5], stats) for key, (stats, _) in months.items()]
    scope = f"区域 {options.region}" if options.region else "全部区域"
    report = build_report(
        figures,
        alarms,
        title=options.title,
        month=options.month,
        scope=scope,
        start_ms=start,
        end_ms=end,
        interval_s=options.interval_s,
        exposures=exposures,
        manual=None if manual is None else manual.totals(),
    )
    report.late = late_clinics(months, day_windows(options.month))
    attach_curves(report, lambda place: [
        (f"{key[3]}/{key[5]}", fold.curve(key))
        for key in sorted(months) if key[:3] == _fridge(place)
    ])  # fmt: skip
    report.doubts += county_doubts(report)
    return report


def _fridge(place: Place) -> tuple[str, str, str]:
    return place.region, place.unit, place.fridge


def day_windows(month: str) -> int:
    start, end = month_bounds(month)
    return -(-(end - start) // DAY_MS)
