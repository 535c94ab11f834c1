"""Probe freshness and compartment status, derived from the latest readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.readings.probe_state import CompartmentStatus, CompartmentView, compartment_views
from gateway.settings import load_settings
from probes.reading import ProbeStatus, Reading

DEMO = load_settings(Path(__file__).resolve().parents[2] / "config" / "demo.toml")
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def view_of(ref: str, latest: dict[str, Reading], now: datetime = NOW) -> CompartmentView:
    return next(view for view in compartment_views(DEMO, latest, now) if view.ref == ref)


def ok(probe: str, celsius: float, age_s: float = 5.0) -> Reading:
    return Reading(probe, NOW - timedelta(seconds=age_s), ProbeStatus.OK, celsius)


@pytest.mark.parametrize(
    ("celsius", "status"),
    [
        (4.5, CompartmentStatus.IN_RANGE),
        (2.0, CompartmentStatus.IN_RANGE),
        (8.0, CompartmentStatus.IN_RANGE),
        (8.1, CompartmentStatus.TOO_WARM),
        (1.9, CompartmentStatus.TOO_COLD),
    ],
)
def test_refrigerated_range_is_inclusive(celsius: float, status: CompartmentStatus) -> None:
    view = view_of("F1/冷藏", {"208601": ok("208601", celsius)})
    assert view.status is status
    assert view.temperature == celsius


def test_a_stale_probe_never_shows_its_last_temperature() -> None:
    view = view_of("F1/冷藏", {"208601": ok("208601", 4.5, age_s=31)})
    assert view.status is CompartmentStatus.NO_DATA
    assert view.temperature is None
    assert view.probes[0].status is ProbeStatus.STALE


def test_a_faulty_probe_is_a_fault_not_a_temperature() -> None:
    fault = Reading("208602", NOW, ProbeStatus.DISCONNECTED)
    view = view_of("F1/冷冻", {"208602": fault})
    assert view.status is CompartmentStatus.PROBE_FAULT
    assert view.temperature is None


def test_no_reading_yet_is_no_data() -> None:
    assert view_of("Z1/冷冻", {}).status is CompartmentStatus.NO_DATA
