"""Monthly pack metrics of one probe's readings. Pure: no I/O, no clock.

The fold of a probe's readings into these figures, one reading at a time, is
`analysis.accumulator`.

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

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields

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
