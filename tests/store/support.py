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


def unchecked_nan() -> Reading:
    """An ok reading with a NaN temperature that skipped the Reading's own check (a bug in
    some driver): the store is the last line, and refuses it (SQLite stores NaN as NULL)."""
    bad = object.__new__(Reading)
    fields = {
        "probe": "208601",
        "taken_at": T0,
        "status": ProbeStatus.OK,
        "temperature": math.nan,
        "humidity": None,
        "battery": None,
        "clock_synced": True,
    }
    for name, value in fields.items():
        object.__setattr__(bad, name, value)
    return bad
