"""Reading factories shared by the store and recorder tests."""

from __future__ import annotations

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
