"""Monthly pack metrics of one probe's readings. Pure: no I/O, no clock.

Readings arrive in time order, one at a time (`SeriesAccumulator.add`), so a month of
minute readings for a whole county streams through in constant memory per probe.

Definitions (documented here because the figures depend on them):

- **Sampling interval** `interval_ms` is the nominal poll interval (60 s by default). The
  month expects `period // interval` readings; **completeness** is the share of those that
  arrived as ok readings with a temperature (capped at 100 %). A probe with no reading at all
  has completeness 0 % and no temperature figures: "no data", never "perfect".
- **Sample and hold.** Each ok reading stands for the time until the next reading (of any
  status) when that comes within `max_gap_ms` (default 3 × the interval); otherwise -- a gap,
  or the last reading of the month -- for one interval, clipped at the month's end. Held time
  is "covered" time. A fault reading (status other than ok) holds its time the same way as
  **fault time**, which is not covered; **offline time** is the rest of the period (`span_ms`),
  when no reading at all stood for the probe.
- **Minutes above / below range** are the held times of readings above `max_c` / below `min_c`
  (strictly: a reading equal to a limit is in range).
- **An excursion** is a maximal run of consecutive out-of-range readings on the same side,
  unbroken by a gap or a fault reading; counted when it starts (a run that began in the
  previous month but shows in this one counts here too).
- **Mean** is the arithmetic mean of the ok readings (exact under InfluxDB's `mean()`).
- **Mean kinetic temperature** weights each reading by its held time:
  `MKT = (ΔH/R) / -ln( Σ tᵢ·exp(-ΔH/(R·Tᵢ)) / Σ tᵢ )` with ΔH/R = 10 000 K
  (ΔH = 83.144 kJ/mol, R = 8.3144 J/(mol·K)), Tᵢ in kelvin.
- **WHO PQS E006 recorder alarms** (refrigerated compartments only): heat when readings are
  ≥ +8.0 °C for 10 h consecutive, freeze when ≤ -0.5 °C for 60 min consecutive; thresholds and
  durations inclusive. "Consecutive" is measured from the first to the last qualifying reading
  of a run unbroken by a gap, a fault reading or a reading on the other side: 601 minute
  readings at 8.0 °C span exactly 10 h and raise the alarm, 600 do not. One alarm per run.
- **Days** (`cuts`): the same fold can keep its figures per local day. Runs (excursions, the
  WHO durations) and the held reading carry across midnight; a held time that crosses it is
  split there; each count belongs to the day of the reading that made it; a day expects
  `⌊(day end - start)/interval⌋ - ⌊(day start - start)/interval⌋` readings. So the days of a
  month, merged with `join_periods`, give the month's figures: exactly for every count, time
  and extreme, to the last bits of a float for the sums.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

DELTA_H_OVER_R_K = 10_000.0
KELVIN = 273.15
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
WHO_HEAT_C = 8.0
WHO_HEAT_MS = 10 * HOUR_MS
WHO_FREEZE_C = -0.5
WHO_FREEZE_MS = 60 * MINUTE_MS
OK = 0


@dataclass(frozen=True, slots=True)
class Limits:
    """A compartment's range; `who` applies the WHO rules (refrigerated compartments)."""

    min_c: float | None
    max_c: float | None
    who: bool = False


REFRIGERATED = Limits(2.0, 8.0, who=True)
FROZEN = Limits(None, -15.0, who=False)
DEFAULT_LIMITS = {"refrigerated": REFRIGERATED, "frozen": FROZEN}


@dataclass(slots=True)
class SeriesStats:
    """The month's figures of one probe, or of several merged (a compartment, a fridge...).

    Times are ms since the epoch. Merged minutes add up probe-minutes: a compartment with two
    probes both above range for 10 min shows 20 min.
    """

    expected: int = 0
    ok: int = 0
    faults: int = 0
    unsynced: int = 0
    """Readings stamped by an unsynchronised clock whose time could not be corrected."""
    outside_period: int = 0
    covered_ms: int = 0
    fault_ms: int = 0
    span_ms: int = 0
    above_ms: int = 0
    below_ms: int = 0
    excursions_above: int = 0
    excursions_below: int = 0
    min_c: float | None = None
    min_at: int | None = None
    max_c: float | None = None
    max_at: int | None = None
    sum_c: float = 0.0
    mkt_weight_ms: int = 0
    mkt_sum: float = 0.0
    who_heat: int = 0
    who_freeze: int = 0
    probes: int = 1

    @property
    def has_data(self) -> bool:
        return self.ok > 0

    @property
    def completeness(self) -> float:
        """Percent of expected readings that arrived ok; 0 when nothing arrived."""
        if self.expected <= 0:
            return 0.0
        return min(100.0, 100.0 * self.ok / self.expected)

    @property
    def mean_c(self) -> float | None:
        return self.sum_c / self.ok if self.ok else None

    @property
    def mkt_c(self) -> float | None:
        if self.mkt_weight_ms <= 0 or self.mkt_sum <= 0:
            return None
        return DELTA_H_OVER_R_K / -math.log(self.mkt_sum / self.mkt_weight_ms) - KELVIN

    @property
    def excursions(self) -> int:
        return self.excursions_above + self.excursions_below

    @property
    def minutes_above(self) -> float:
        return self.above_ms / MINUTE_MS

    @property
    def minutes_below(self) -> float:
        return self.below_ms / MINUTE_MS

    @property
    def minutes_fault(self) -> float:
        return self.fault_ms / MINUTE_MS

    @property
    def minutes_offline(self) -> float:
        return max(0, self.span_ms - self.covered_ms - self.fault_ms) / MINUTE_MS

    def merge(self, other: SeriesStats) -> SeriesStats:
        """The figures of both together (min/max keep the earliest on a tie)."""
        out = SeriesStats()
        for item in fields(SeriesStats):
            name = item.name
            if name in ("min_c", "min_at", "max_c", "max_at"):
                continue
            setattr(out, name, getattr(self, name) + getattr(other, name))
        low = [s for s in (self, other) if s.min_c is not None]
        if low:
            best = min(low, key=lambda s: (s.min_c, s.min_at))
            out.min_c, out.min_at = best.min_c, best.min_at
        high = [s for s in (self, other) if s.max_c is not None]
        if high:
            best = min(high, key=lambda s: (-(s.max_c or 0.0), s.max_at))
            out.max_c, out.max_at = best.max_c, best.max_at
        return out


def merge_all(items: Iterable[SeriesStats]) -> SeriesStats:
    out: SeriesStats | None = None
    for item in items:
        out = item if out is None else out.merge(item)
    if out is None:
        return SeriesStats(probes=0)
    return out


def join_periods(items: Iterable[SeriesStats]) -> SeriesStats:
    """One probe's figures over consecutive periods (its days) as those of the whole span."""
    out = merge_all(items)
    out.probes = 1
    return out


def mkt_weight(temperature_c: float) -> float:
    """exp(-ΔH/(R·T)) of one temperature: MKT's per-reading term."""
    return math.exp(-DELTA_H_OVER_R_K / (temperature_c + KELVIN))


def mean_kinetic_temperature(samples: Iterable[tuple[float, float]]) -> float:
    """MKT in °C of (temperature °C, weight) pairs; raises ValueError when empty."""
    total = weighted = 0.0
    for temperature, weight in samples:
        total += weight
        weighted += weight * mkt_weight(temperature)
    if total <= 0:
        raise ValueError("mean kinetic temperature of no samples")
    return DELTA_H_OVER_R_K / -math.log(weighted / total) - KELVIN


@dataclass(slots=True)
class _WhoRun:
    threshold: float
    duration_ms: int
    above: bool
    start: int | None = None
    fired: bool = False

    def step(self, t: int, value: float) -> bool:
        """Feed an ok reading; True when this reading completes an alarm."""
        hit = value >= self.threshold if self.above else value <= self.threshold
        if not hit:
            self.start = None
            return False
        if self.start is None:
            self.start, self.fired = t, False
        if not self.fired and t - self.start >= self.duration_ms:
            self.fired = True
            return True
        return False

    def reset(self) -> None:
        self.start = None


@dataclass(slots=True)
class SeriesAccumulator:
    """Folds one probe's readings, in time order, into `SeriesStats` for [start, end), kept
    per period between `cuts` (ascending times inside the span: local midnights) when given."""

    limits: Limits
    start_ms: int
    end_ms: int
    interval_ms: int = MINUTE_MS
    max_gap_ms: int = 0
    cuts: Sequence[int] = ()
    stats: SeriesStats = field(default_factory=SeriesStats)
    """The figures of the period being filled (the whole span without cuts)."""
    _periods: list[SeriesStats] = field(default_factory=list)
    _edges: list[int] = field(default_factory=list)
    _period: int = 0
    _held_at: int | None = None
    _held_c: float = 0.0
    _held_period: int = 0
    _last_at: int | None = None
    _run: int = 0  # +1 above, -1 below, 0 in range / broken
    _heat: _WhoRun = field(default_factory=lambda: _WhoRun(WHO_HEAT_C, WHO_HEAT_MS, True))
    _freeze: _WhoRun = field(default_factory=lambda: _WhoRun(WHO_FREEZE_C, WHO_FREEZE_MS, False))
    _weights: dict[float, float] = field(default_factory=dict)
    """`mkt_weight` of each temperature seen (readings repeat a few hundred values)."""

    def __post_init__(self) -> None:
        if self.interval_ms <= 0:
            raise ValueError(f"sampling interval must be positive, got {self.interval_ms} ms")
        if not self.max_gap_ms:
            self.max_gap_ms = 3 * self.interval_ms
        edges = [self.start_ms, *self.cuts, self.end_ms]
        if any(b <= a for a, b in itertools.pairwise(edges)):
            raise ValueError("cuts must be ascending times strictly inside [start, end)")
        self._edges = edges
        self._periods = [self.stats, *(SeriesStats() for _ in self.cuts)]
        for period, (low, high) in zip(self._periods, itertools.pairwise(edges), strict=True):
            period.expected = max(0, self._slots(high) - self._slots(low))
            period.span_ms = high - low

    def _slots(self, t: int) -> int:
        return (t - self.start_ms) // self.interval_ms

    def add(
        self, t: int, temperature: float | None, status: int = OK, *, synced: bool = True
    ) -> None:
        """One reading at `t` ms; readings outside [start, end) or out of order are counted
        in `outside_period` and otherwise ignored (clock-shifted points). `synced` False: its
        time is unreliable (counted in `unsynced`, folded as it is)."""
        if (
            t < self.start_ms
            or t >= self.end_ms
            or (self._last_at is not None and t <= self._last_at)
        ):
            self.stats.outside_period += 1
            return
        broken = self._last_at is None or t - self._last_at > self.max_gap_ms
        self._release(t)
        self._last_at = t
        if t >= self._edges[self._period + 1]:
            self._enter(t)
        if not synced:
            self.stats.unsynced += 1
        if broken:
            self._break()
        if status != OK or temperature is None or not math.isfinite(temperature):
            self.stats.faults += 1
            self._break()
            self._held_at, self._held_c, self._held_period = t, math.nan, self._period
            return
        self._take(t, temperature)

    def add_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """`add` for each `[t, temperature, status, clock_synced]` row in time order, as the
        central store returns them (status None: ok; clock_synced 0: unsynchronised).

        A county's month is 18 M readings, nearly all of one kind: ok, in order, after an ok
        reading of the same period within `max_gap_ms`. Those are folded here with the
        arithmetic of `_release` and `_take` inlined, in the same order (so the float sums are
        the same to the last bit); any other reading goes through `add`."""
        limits, heat, freeze = self.limits, self._heat, self._freeze
        max_c = math.inf if limits.max_c is None else limits.max_c
        min_c = -math.inf if limits.min_c is None else limits.min_c
        who, heat_c, freeze_c = limits.who, heat.threshold, freeze.threshold
        max_gap, weights = self.max_gap_ms, self._weights
        stats, edge = self.stats, self._edges[self._period + 1]
        last, held, held_c, run = self._last_at, self._held_at, self._held_c, self._run
        for t, value, status, synced in rows:
            if (
                last is None
                or held is None
                or not last < t <= last + max_gap
                or t >= edge
                or status
                or synced == 0
                or value is None
                or not -math.inf < value < math.inf
                or math.isnan(held_c)  # the held reading is a fault
            ):
                self._last_at, self._held_at, self._held_c, self._run = last, held, held_c, run
                self.add(t, value, status or OK, synced=synced != 0)
                stats, edge = self.stats, self._edges[self._period + 1]
                last, held, held_c, run = self._last_at, self._held_at, self._held_c, self._run
                continue
            span = t - held
            weight = weights.get(held_c)
            if weight is None:
                weight = weights[held_c] = mkt_weight(held_c)
            stats.covered_ms += span
            stats.mkt_weight_ms += span
            stats.mkt_sum += span * weight
            if held_c > max_c:
                stats.above_ms += span
            elif held_c < min_c:
                stats.below_ms += span
            stats.ok += 1
            stats.sum_c += value
            if stats.min_c is None or value < stats.min_c:
                stats.min_c, stats.min_at = value, t
            if stats.max_c is None or value > stats.max_c:
                stats.max_c, stats.max_at = value, t
            side = 1 if value > max_c else -1 if value < min_c else 0
            if side and side != run:
                if side > 0:
                    stats.excursions_above += 1
                else:
                    stats.excursions_below += 1
            run = side
            if who and not freeze_c < value < heat_c:
                stats.who_heat += heat.step(t, value)
                stats.who_freeze += freeze.step(t, value)
            else:  # neither WHO run goes on (without the WHO rules they are never read)
                heat.start = freeze.start = None
            last = held = t
            held_c = value
        self._last_at, self._held_at, self._held_c, self._run = last, held, held_c, run

    def _enter(self, t: int) -> None:
        edges = self._edges
        while t >= edges[self._period + 1]:
            self._period += 1
        self.stats = self._periods[self._period]

    def _take(self, t: int, value: float) -> None:
        stats, limits = self.stats, self.limits
        stats.ok += 1
        stats.sum_c += value
        if stats.min_c is None or value < stats.min_c:
            stats.min_c, stats.min_at = value, t
        if stats.max_c is None or value > stats.max_c:
            stats.max_c, stats.max_at = value, t
        side = 0
        if limits.max_c is not None and value > limits.max_c:
            side = 1
        elif limits.min_c is not None and value < limits.min_c:
            side = -1
        if side and side != self._run:
            if side > 0:
                stats.excursions_above += 1
            else:
                stats.excursions_below += 1
        self._run = side
        if limits.who:
            stats.who_heat += self._heat.step(t, value)
            stats.who_freeze += self._freeze.step(t, value)
        self._held_at, self._held_c, self._held_period = t, value, self._period

    def _break(self) -> None:
        self._run = 0
        self._heat.reset()
        self._freeze.reset()

    def _release(self, until: int | None) -> None:
        """Account the held reading's time up to `until` (None: the span's end), split at the
        cuts it crosses."""
        held = self._held_at
        if held is None:
            return
        span = None if until is None else until - held
        if span is None or span > self.max_gap_ms:
            span = self.interval_ms
        span = min(span, self.end_ms - held)
        value, limits = self._held_c, self.limits
        fault = math.isnan(value)
        weight = 0.0 if fault else mkt_weight(value)
        above = limits.max_c is not None and value > limits.max_c
        below = not above and limits.min_c is not None and value < limits.min_c
        period, edges = self._held_period, self._edges
        while span > 0:
            part = min(span, edges[period + 1] - held)
            stats = self._periods[period]
            span -= part
            held += part
            period += 1
            if fault:
                stats.fault_ms += part
                continue
            stats.covered_ms += part
            stats.mkt_weight_ms += part
            stats.mkt_sum += part * weight
            if above:
                stats.above_ms += part
            elif below:
                stats.below_ms += part
        self._held_at = None

    def finish(self) -> SeriesStats:
        """The figures of the whole span, after the last reading (idempotent)."""
        self._release(None)
        if len(self._periods) == 1:
            return self._periods[0]
        return join_periods(self._periods)

    def periods(self) -> list[tuple[int, SeriesStats]]:
        """(start ms, figures) of each period, after the last reading."""
        self._release(None)
        return list(zip(self._edges, self._periods, strict=False))


def series_stats(
    points: Iterable[tuple[int, float | None, int]],
    limits: Limits,
    start_ms: int,
    end_ms: int,
    *,
    interval_ms: int = MINUTE_MS,
    max_gap_ms: int = 0,
) -> SeriesStats:
    """`SeriesAccumulator` over (time ms, temperature or None, status) triples."""
    acc = SeriesAccumulator(limits, start_ms, end_ms, interval_ms, max_gap_ms)
    for t, temperature, status in points:
        acc.add(t, temperature, status)
    return acc.finish()
