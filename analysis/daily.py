"""Daily figures: each gateway's exact per-day, per-probe figures, and the report made of them.

A gateway folds its own readings per local day (`accumulator.SeriesAccumulator` with the month's
midnights as cuts, runs carried across them) and forwards one point per probe and day::

    coldchain_daily,compartment=<name>,fridge=<code>,gateway=<number>,kind=<kind>,probe=<code>,
                    region=<code>,unit=<code> expected=<int>i,ok=<int>i,faults=<int>i,...
                    <local midnight starting the day + revision, ms>

The fields are `SeriesStats`' own (`FIELDS`: counts and milliseconds as integers, temperatures
and sums as floats; `min_c`/`min_at`/`max_c`/`max_at` only on a day with an ok reading). A
recomputation (late data, a clock correction) is sent as the day's next revision, at midnight +
the revision in ms, and the last revision of a day counts (VictoriaMetrics cannot overwrite).
Folded by `MonthFold` (the same merge as `metrics.join_periods`), a probe's days give its month
exactly as the raw-point fold does; the month's expected readings come from the month
itself (and so does its length, `span_ms`), so a day no gateway reported counts as a day
without data, as it does from raw points.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from analysis.metrics import SeriesStats
from analysis.report import DayPoint, ManualRecords
from gateway.core.clinic_time import CLINIC_TZ

MEASUREMENT = "coldchain_daily"
MANUAL = "coldchain_daily_manual"
PLACEMENT = ("region", "unit", "fridge", "compartment", "kind", "probe")
INTEGER_FIELDS = (
    "expected",
    "ok",
    "faults",
    "unsynced",
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
_DAY_SLOT = {"min_c": 0, "min_at": 1, "max_c": 2, "max_at": 3, "sum_c": 4, "ok": 5}


@dataclass(slots=True)
class _Probe:
    stats: SeriesStats
    days: dict[int, list[float | None]]
    """Per day: min_c, min_at, max_c, max_at, sum_c, ok (the extremes and the curve)."""


class MonthFold:
    """Folds daily figures into each probe's month, one field value at a time: counts and
    sums add up; each day keeps six numbers (its extremes, sum and count) for the month's
    extremes, the earliest on a tie as `SeriesStats.merge` does, and for the curve.

    A recomputed day is a later revision (its time is the day's start + the revision in ms):
    the values of one probe's field must come in time order (InfluxQL's rows of a series,
    VictoriaMetrics' samples of a series), and the last of a day is the one folded."""

    def __init__(self, start_ms: int, end_ms: int, expected: int) -> None:
        self.start_ms, self.end_ms, self.expected = start_ms, end_ms, expected
        self._starts = day_starts(start_ms, end_ms)
        self._probes: dict[ProbeKey, _Probe] = {}
        self._pending: dict[tuple[ProbeKey, str], tuple[int, float]] = {}

    def probe(self, key: ProbeKey) -> None:
        """Know a probe even if it reported no day of the month (it shows as no data)."""
        if key not in self._probes:
            self._probes[key] = _Probe(SeriesStats(), {})

    def add(self, key: ProbeKey, name: str, t: int, value: float | None) -> None:
        """The value of field `name` of the probe's day revision at `t`."""
        if value is None or not self.start_ms <= t < self.end_ms:
            return
        day = self._starts[bisect_right(self._starts, t) - 1]
        pending = self._pending.get((key, name))
        if pending is not None and pending[0] != day:
            self._fold(key, name, *pending)
        self._pending[key, name] = (day, value)

    def _fold(self, key: ProbeKey, name: str, day: int, value: float) -> None:
        self.probe(key)
        probe = self._probes[key]
        if name in _SUMMED:
            setattr(probe.stats, name, getattr(probe.stats, name) + value)
        if (slot := _DAY_SLOT.get(name)) is not None:
            probe.days.setdefault(day, [None] * 6)[slot] = value
        elif name in _SUMMED:
            probe.days.setdefault(day, [None] * 6)

    def _flush(self) -> None:
        for (key, name), pending in self._pending.items():
            self._fold(key, name, *pending)
        self._pending.clear()

    def months(self) -> dict[ProbeKey, tuple[SeriesStats, int]]:
        """Each probe's month and how many days it reported."""
        self._flush()
        out: dict[ProbeKey, tuple[SeriesStats, int]] = {}
        for key, probe in self._probes.items():
            stats = probe.stats
            for name in INTEGER_FIELDS:
                setattr(stats, name, int(getattr(stats, name)))
            stats.expected, stats.probes = self.expected, 1
            stats.span_ms = self.end_ms - self.start_ms
            lows = [p for v in probe.days.values() if (p := _pair(v[0], v[1], 1.0))]
            highs = [p for v in probe.days.values() if (p := _pair(v[2], v[3], -1.0))]
            if lows:
                stats.min_c, stats.min_at = min(lows)
            if highs:
                top, stats.max_at = min(highs)
                stats.max_c = -top
            out[key] = (stats, len(probe.days))
        return out

    def curve(self, key: ProbeKey) -> list[DayPoint]:
        """The probe's days with readings, in order (after `months`)."""
        probe = self._probes.get(key)
        if probe is None:
            return []
        return [
            (day, v[0], v[2], v[4] / v[5])
            for day, v in sorted(probe.days.items())
            if v[0] is not None and v[2] is not None and v[4] is not None and v[5]
        ]


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


CompartmentKey = tuple[str, str, str]


class ManualFold:
    """The compartments' manual record over a month (`coldchain_daily_manual`: half-days
    `recorded` and `due` per compartment and day), from each day's last revision."""

    def __init__(self, start_ms: int, end_ms: int) -> None:
        self.start_ms, self.end_ms = start_ms, end_ms
        self._starts = day_starts(start_ms, end_ms)
        self._last: dict[tuple[CompartmentKey, int, str], tuple[int, float]] = {}

    def add(self, key: CompartmentKey, name: str, t: int, value: float | None) -> None:
        """Field `name` (recorded, due) of the (unit, fridge, compartment) day revision at t."""
        if value is None or name not in ("recorded", "due") or not self.start_ms <= t < self.end_ms:
            return
        day = self._starts[bisect_right(self._starts, t) - 1]
        last = self._last.get((key, day, name))
        if last is None or t >= last[0]:
            self._last[key, day, name] = (t, value)

    def totals(self) -> dict[CompartmentKey, ManualRecords] | None:
        """Per compartment; None when no gateway sent its manual record (compliance unknown)."""
        if not self._last:
            return None
        recorded: dict[CompartmentKey, int] = {}
        due: dict[CompartmentKey, int] = {}
        for (key, _, name), (_, value) in self._last.items():
            into = recorded if name == "recorded" else due
            into[key] = into.get(key, 0) + int(value)
        return {
            key: ManualRecords(recorded.get(key, 0), due.get(key, 0))
            for key in sorted({*recorded, *due})
        }
