"""Identify mode: which probe's reading is moving right now.

A technician warms a probe in a hand; within a minute its reading rises steadily while the
others wander within their own noise. Each probe's readings over the window are fitted with a
straight line; the score is the rise along that line divided by the scatter around it (floored
at the sensors' resolution), so a slow clean rise outranks a large noisy wobble. Pure: the
routes fetch the readings.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Probes report tenths of a degree: scatter below this is rounding, not noise.
NOISE_FLOOR_C = 0.05
MIN_POINTS = 3
# Readings kept per discovered probe (identify looks at the last minutes only).
HISTORY = 240

Point = tuple[float, float]  # (seconds on any one clock, °C)


@dataclass(frozen=True, slots=True)
class Movement:
    """How one probe moved over the window. `score` is None with too few readings to say."""

    key: str
    points: int
    rise_c: float | None
    rate_c_per_min: float | None
    noise_c: float | None
    score: float | None


def movement(key: str, points: Sequence[Point], noise_floor: float = NOISE_FLOOR_C) -> Movement:
    if len(points) < MIN_POINTS or len({t for t, _ in points}) < 2:
        return Movement(key, len(points), None, None, None, None)
    times = [t for t, _ in points]
    values = [v for _, v in points]
    slope, intercept = statistics.linear_regression(times, values)
    residuals = [v - (slope * t + intercept) for t, v in points]
    noise = statistics.pstdev(residuals)
    rise = slope * (max(times) - min(times))
    return Movement(
        key,
        len(points),
        round(rise, 3),
        round(slope * 60, 4),
        round(noise, 4),
        round(rise / max(noise, noise_floor), 3),
    )


def rank(
    series: Mapping[str, Sequence[Point]], noise_floor: float = NOISE_FLOOR_C
) -> list[Movement]:
    """Every probe, the one rising most clearly above its own noise first; probes with too few
    readings last."""
    moves = [movement(key, points, noise_floor) for key, points in series.items()]
    return sorted(moves, key=lambda move: (move.score is None, -(move.score or 0.0), move.key))


class Sightings:
    """What discovery saw of probes no configuration polls yet: when each hardware address was
    last seen, and its recent readings for identify mode."""

    def __init__(self, size: int = HISTORY) -> None:
        self._size = size
        self._points: dict[str, deque[Point]] = {}
        self._seen: dict[str, float] = {}

    def saw(self, key: str, at: float, celsius: float | None = None) -> None:
        self._seen[key] = at
        if celsius is not None:
            self._points.setdefault(key, deque(maxlen=self._size)).append((at, celsius))

    def seen_at(self, key: str) -> float | None:
        return self._seen.get(key)

    def since(self, start: float) -> dict[str, list[Point]]:
        return {
            key: [point for point in points if point[0] >= start]
            for key, points in self._points.items()
        }
