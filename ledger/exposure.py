"""What an excursion did to the vaccine in a compartment: pure arithmetic over readings.

Readings are a step function: each temperature holds from its time until the next reading (the
last one until the end of the window), which is how a data logger's interval is read. Within
the window [start, end] this gives minutes above and below the compartment's range, the peak
and trough, degree-minutes outside the range and the mean kinetic temperature (MKT).

MKT (USP <1079>, the Haynes formula also used by ICH Q1A for storage conditions) is the single
temperature that would degrade the product as much as the varying one did:

    MKT = (ΔH/R) / -ln( Σ wᵢ·exp(-ΔH/(R·Tᵢ)) / Σ wᵢ )    (T in kelvin, wᵢ the time each holds)

with the default activation energy of USP <1079>, ΔH = 83.144 kJ/mol, and the gas constant
R = 8.3144 J/(mol·K), so ΔH/R = 10,000 K.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

KELVIN = 273.15
#: Activation energy ΔH = 83.144 kJ/mol (USP <1079> default) over R = 8.3144 J/(mol·K).
DELTA_H_OVER_R_K = 83_144.0 / 8.3144


@dataclass(frozen=True, slots=True)
class Sample:
    at: datetime
    celsius: float


@dataclass(frozen=True, slots=True)
class Exposure:
    """One window's exposure; temperatures are None when no reading covered the window."""

    start: datetime
    end: datetime
    minutes_above: float
    minutes_below: float
    degree_minutes_above: float
    degree_minutes_below: float
    peak_c: float | None
    trough_c: float | None
    mkt_c: float | None
    samples: int

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "minutes_above": round(self.minutes_above, 2),
            "minutes_below": round(self.minutes_below, 2),
            "degree_minutes_above": round(self.degree_minutes_above, 2),
            "degree_minutes_below": round(self.degree_minutes_below, 2),
            "peak_c": self.peak_c,
            "trough_c": self.trough_c,
            "mkt_c": None if self.mkt_c is None else round(self.mkt_c, 2),
            "samples": self.samples,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Exposure:
        return cls(
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            minutes_above=float(data["minutes_above"]),
            minutes_below=float(data["minutes_below"]),
            degree_minutes_above=float(data["degree_minutes_above"]),
            degree_minutes_below=float(data["degree_minutes_below"]),
            peak_c=data["peak_c"],
            trough_c=data["trough_c"],
            mkt_c=data["mkt_c"],
            samples=int(data["samples"]),
        )


def mean_kinetic_temperature(celsius: Sequence[float], weights: Sequence[float]) -> float:
    """MKT in °C of temperatures held for `weights` (any time unit; all equal if they sum to 0)."""
    if not celsius or len(celsius) != len(weights):
        raise ValueError("MKT needs one weight per temperature, and at least one temperature")
    if math.fsum(weights) <= 0:
        weights = [1.0] * len(celsius)
    total = math.fsum(weights)
    mean = math.fsum(
        w * math.exp(-DELTA_H_OVER_R_K / (t + KELVIN))
        for t, w in zip(celsius, weights, strict=True)
    )
    return DELTA_H_OVER_R_K / -math.log(mean / total) - KELVIN


def exposure(
    samples: Iterable[Sample],
    low_c: float | None,
    high_c: float | None,
    start: datetime,
    end: datetime,
) -> Exposure:
    """The exposure within [start, end]; samples before `start` only supply the level at start."""
    if end < start:
        raise ValueError(f"window ends ({end}) before it starts ({start})")
    ordered = sorted(samples, key=lambda s: s.at)
    held: list[tuple[float, float]] = []  # (celsius, minutes)
    for index, sample in enumerate(ordered):
        if sample.at > end:
            break
        following = ordered[index + 1].at if index + 1 < len(ordered) else end
        if following < start:
            continue
        begin, finish = max(sample.at, start), min(following, end)
        held.append((sample.celsius, max((finish - begin).total_seconds(), 0.0) / 60))
    above = below = dm_above = dm_below = 0.0
    for celsius, minutes in held:
        if high_c is not None and celsius > high_c:
            above += minutes
            dm_above += (celsius - high_c) * minutes
        if low_c is not None and celsius < low_c:
            below += minutes
            dm_below += (low_c - celsius) * minutes
    temperatures = [celsius for celsius, _ in held]
    return Exposure(
        start=start,
        end=end,
        minutes_above=above,
        minutes_below=below,
        degree_minutes_above=dm_above,
        degree_minutes_below=dm_below,
        peak_c=max(temperatures) if temperatures else None,
        trough_c=min(temperatures) if temperatures else None,
        mkt_c=mean_kinetic_temperature(temperatures, [m for _, m in held]) if held else None,
        samples=len(held),
    )


def worst(exposures: Sequence[Exposure]) -> Exposure:
    """Several probes of one compartment: each figure at its worst (the vaccine sits anywhere)."""
    if not exposures:
        raise ValueError("no exposure to combine")
    peaks = [e.peak_c for e in exposures if e.peak_c is not None]
    troughs = [e.trough_c for e in exposures if e.trough_c is not None]
    mkts = [e.mkt_c for e in exposures if e.mkt_c is not None]
    return Exposure(
        start=min(e.start for e in exposures),
        end=max(e.end for e in exposures),
        minutes_above=max(e.minutes_above for e in exposures),
        minutes_below=max(e.minutes_below for e in exposures),
        degree_minutes_above=max(e.degree_minutes_above for e in exposures),
        degree_minutes_below=max(e.degree_minutes_below for e in exposures),
        peak_c=max(peaks) if peaks else None,
        trough_c=min(troughs) if troughs else None,
        mkt_c=max(mkts) if mkts else None,
        samples=sum(e.samples for e in exposures),
    )
