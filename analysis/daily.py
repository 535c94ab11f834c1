"""Daily figures: each gateway's exact per-day, per-probe figures, and the report made of them.

A gateway folds its own readings per local day (`metrics.SeriesAccumulator` with the month's
midnights as cuts, runs carried across them) and forwards one point per probe and day::

    coldchain_daily,compartment=<name>,fridge=<code>,gateway=<number>,kind=<kind>,probe=<code>,
                    region=<code>,unit=<code> expected=<int>i,ok=<int>i,faults=<int>i,...
                    <local midnight starting the day, ms>

The fields are `SeriesStats`' own (`FIELDS`: counts and milliseconds as integers, temperatures
and sums as floats; `min_c`/`min_at`/`max_c`/`max_at` only on a day with an ok reading). The
series and timestamp are stable, so a recomputation (late data, a clock correction) overwrites
the day. Folded by `MonthFold` (the same merge as `metrics.join_periods`), a probe's days give
its month exactly as the raw-point fold does; the month's expected readings come from the month
itself (and so does its length, `span_ms`), so a day no gateway reported counts as a day
without data, as it does from raw points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from analysis.metrics import SeriesStats
from gateway.core.clinic_time import CLINIC_TZ

MEASUREMENT = "coldchain_daily"
PLACEMENT = ("region", "unit", "fridge", "compartment", "kind", "probe")
INTEGER_FIELDS = (
    "expected",
    "ok",
    "faults",
    "outside_period",
    "covered_ms",
    "fault_ms",
    "above_ms",
    "below_ms",
    "excursions_above",
    "excursions_below",
    "mkt_weight_ms",
    "who_heat",
    "who_freeze",
)
FLOAT_FIELDS = ("sum_c", "mkt_sum")
EXTREMES = (("min_c", "min_at"), ("max_c", "max_at"))
FIELDS = (*INTEGER_FIELDS, *FLOAT_FIELDS, "min_c", "min_at", "max_c", "max_at")

ProbeKey = tuple[str, str, str, str, str, str]


def day_starts(start_ms: int, end_ms: int, tz: ZoneInfo = CLINIC_TZ) -> list[int]:
    """The local midnights in [start, end), in ms (the first is `start` when it is one)."""
    day = datetime.fromtimestamp(start_ms / 1000, tz).date()
    out: list[int] = []
    while (t := _midnight(day, tz)) < end_ms:
        if t >= start_ms:
            out.append(t)
        day += timedelta(days=1)
    return out


def _midnight(day: date, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, datetime.min.time(), tzinfo=tz).timestamp() * 1000)


def line_fields(stats: SeriesStats) -> str:
    """The fields of one day as line protocol (`name=value,...`)."""
    parts = [f"{name}={int(getattr(stats, name))}i" for name in INTEGER_FIELDS]
    parts += [f"{name}={float(getattr(stats, name))!r}" for name in FLOAT_FIELDS]
    for value_name, at_name in EXTREMES:
        value, at = getattr(stats, value_name), getattr(stats, at_name)
        if value is not None and at is not None and math.isfinite(value):
            parts += [f"{value_name}={float(value)!r}", f"{at_name}={int(at)}i"]
    return ",".join(parts)


def stats_of(fields: Mapping[str, float | int | None]) -> SeriesStats:
    """One day's figures from its fields as read back (missing counts are 0)."""
    stats = SeriesStats()
    for name in INTEGER_FIELDS:
        value = fields.get(name)
        setattr(stats, name, 0 if value is None else int(value))
    for name in FLOAT_FIELDS:
        value = fields.get(name)
        setattr(stats, name, 0.0 if value is None else float(value))
    for value_name, at_name in EXTREMES:
        value, at = fields.get(value_name), fields.get(at_name)
        if value is not None and at is not None:
            setattr(stats, value_name, float(value))
            setattr(stats, at_name, int(at))
    return stats


def probe_key(tags: Mapping[str, str]) -> ProbeKey:
    region, unit, fridge, compartment, kind, probe = (tags.get(t, "") for t in PLACEMENT)
    return region, unit, fridge, compartment, kind, probe


_SUMMED = frozenset((*INTEGER_FIELDS, *FLOAT_FIELDS))
_EXTREME_SLOT = {"min_c": 0, "min_at": 1, "max_c": 2, "max_at": 3}


@dataclass(slots=True)
class _Probe:
    stats: SeriesStats
    days: set[int]
    extremes: dict[int, list[float | None]]


class MonthFold:
    """Folds daily figures into each probe's month, one field value at a time, in any order
    (InfluxQL hands rows of fields, VictoriaMetrics one series per field): counts and sums
    add up; each day's extremes are kept (four numbers) until `months()` picks the month's,
    the earliest on a tie as `SeriesStats.merge` does."""

    def __init__(self, start_ms: int, end_ms: int, expected: int) -> None:
        self.start_ms, self.end_ms, self.expected = start_ms, end_ms, expected
        self._probes: dict[ProbeKey, _Probe] = {}

    def probe(self, key: ProbeKey) -> None:
        """Know a probe even if it reported no day of the month (it shows as no data)."""
        if key not in self._probes:
            self._probes[key] = _Probe(SeriesStats(), set(), {})

    def add(self, key: ProbeKey, name: str, day_ms: int, value: float | None) -> None:
        if value is None or not self.start_ms <= day_ms < self.end_ms:
            return
        self.probe(key)
        probe = self._probes[key]
        if name in _SUMMED:
            setattr(probe.stats, name, getattr(probe.stats, name) + value)
            probe.days.add(day_ms)
        elif (slot := _EXTREME_SLOT.get(name)) is not None:
            probe.extremes.setdefault(day_ms, [None, None, None, None])[slot] = value

    def months(self) -> dict[ProbeKey, tuple[SeriesStats, int]]:
        """Each probe's month and how many days it reported."""
        out: dict[ProbeKey, tuple[SeriesStats, int]] = {}
        for key, probe in self._probes.items():
            stats = probe.stats
            for name in INTEGER_FIELDS:
                setattr(stats, name, int(getattr(stats, name)))
            stats.expected, stats.probes = self.expected, 1
            stats.span_ms = self.end_ms - self.start_ms
            lows = [p for v in probe.extremes.values() if (p := _pair(v[0], v[1], 1.0))]
            highs = [p for v in probe.extremes.values() if (p := _pair(v[2], v[3], -1.0))]
            if lows:
                stats.min_c, stats.min_at = min(lows)
            if highs:
                top, stats.max_at = min(highs)
                stats.max_c = -top
            out[key] = (stats, len(probe.days))
        return out


def _pair(value: float | None, at: float | None, sign: float) -> tuple[float, int] | None:
    """(sign × value, time) to rank extremes by, or None when the day had none."""
    return None if value is None or at is None else (sign * value, int(at))


def late_clinics(
    months: Mapping[ProbeKey, tuple[SeriesStats, int]], days: int
) -> list[tuple[str, int]]:
    """(unit, days missing) of each clinic some probe of which reported fewer than `days`
    days of the month, most missing first."""
    worst: dict[str, int] = {}
    for key, (_, reported) in months.items():
        worst[key[1]] = max(worst.get(key[1], 0), days - reported)
    return sorted(((u, m) for u, m in worst.items() if m > 0), key=lambda x: (-x[1], x[0]))
