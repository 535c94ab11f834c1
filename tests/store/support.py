"""Reading factories shared by the store and recorder tests."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from probes.reading import ProbeStatus, Reading

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def ok(probe: str = "208601", minute: float = 0, temperature: float = 4.5) -> Reading:
    return Reading(probe, T0 + timedelta(minutes=minute), ProbeStatus.OK, temperature)


def series(count: int, probes: int = 1, start: float = 0) -> list[Reading]:
    """`count` ok readings, round-robin over `probes` probes, one per minute of probe time."""
    return [
        ok(f"P{index % probes}", start + index // probes, 2.0 + index % 60 / 10)
        for index in range(count)
    ]


def unchecked(
    temperature: float | None, humidity: float | None = None, battery: float | None = None
) -> Reading:
    """An ok reading of probe 208601 at T0 that skipped the Reading's own checks (a bug in
    some driver, NaN or inf values): for the last lines of defence, the store and encoders."""
    bad = object.__new__(Reading)
    fields = {
        "probe": "208601",
        "taken_at": T0,
        "status": ProbeStatus.OK,
        "temperature": temperature,
        "humidity": humidity,
        "battery": battery,
        "clock_synced": True,
    }
    for name, value in fields.items():
        object.__setattr__(bad, name, value)
    return bad


def unchecked_nan() -> Reading:
    """An ok reading with a NaN temperature: the store refuses it (SQLite stores NaN as NULL)."""
    return unchecked(math.nan)
