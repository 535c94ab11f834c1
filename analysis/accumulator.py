"""The fold of one probe's readings into the figures `analysis.metrics` defines (sample and
hold, excursions, MKT, the WHO durations, days), one reading at a time in time order
(`SeriesAccumulator.add`, or `add_rows` for a query's rows), so a month of minute readings for a
whole county streams through in constant memory per probe. Pure: no I/O, no clock."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from analysis.metrics import (
    MINUTE_MS,
    OK,
    WHO_FREEZE_C,
    WHO_FREEZE_MS,
    WHO_HEAT_C,
    WHO_HEAT_MS,
    Limits,
    SeriesStats,
    join_periods,
    mkt_weight,
)


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
