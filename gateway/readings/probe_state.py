"""What the gateway knows of each probe and compartment right now, derived from readings.

Pure: given the settings, the latest reading of each probe and the time, it says whether a
probe is fresh or stale and how each compartment stands against its range. A probe with no
recent reading is `stale`; it never shows its last temperature as the current one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gateway.core.compartments import CompartmentSettings, FridgeSettings
from gateway.settings import Settings
from probes.reading import ProbeStatus, Reading
from probes.settings import Probe

STALE_AFTER_POLLS = 3
# A probe polled every few hundred ms would flap to stale at every scheduling hiccup.
STALE_FLOOR_S = 10.0


class CompartmentStatus(StrEnum):
    IN_RANGE = "in_range"
    TOO_WARM = "too_warm"
    TOO_COLD = "too_cold"
    PROBE_FAULT = "probe_fault"
    NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class ProbeView:
    code: str
    status: ProbeStatus | None
    temperature: float | None
    humidity: float | None
    taken_at: datetime | None
    age_s: float | None


@dataclass(frozen=True, slots=True)
class CompartmentView:
    fridge: FridgeSettings
    compartment: CompartmentSettings
    status: CompartmentStatus
    temperature: float | None
    taken_at: datetime | None
    probes: list[ProbeView]

    @property
    def ref(self) -> str:
        return f"{self.fridge.code}/{self.compartment.name}"


def probe_view(probe: Probe, latest: Reading | None, now: datetime) -> ProbeView:
    if latest is None:
        return ProbeView(probe.code, None, None, None, None, None)
    age = (now - latest.taken_at).total_seconds()
    status = latest.status
    if age > max(STALE_AFTER_POLLS * probe.interval_s, STALE_FLOOR_S):
        status = ProbeStatus.STALE
    fresh = status is ProbeStatus.OK
    return ProbeView(
        probe.code,
        status,
        latest.temperature if fresh else None,
        latest.humidity if fresh else None,
        latest.taken_at,
        age,
    )


def classify(compartment: CompartmentSettings, probes: list[ProbeView]) -> CompartmentStatus:
    temperatures = [view.temperature for view in probes if view.temperature is not None]
    if not temperatures:
        if any(view.status not in (None, ProbeStatus.STALE) for view in probes):
            return CompartmentStatus.PROBE_FAULT
        return CompartmentStatus.NO_DATA
    if compartment.max_c is not None and max(temperatures) > compartment.max_c:
        return CompartmentStatus.TOO_WARM
    if compartment.min_c is not None and min(temperatures) < compartment.min_c:
        return CompartmentStatus.TOO_COLD
    return CompartmentStatus.IN_RANGE


def compartment_views(
    settings: Settings, latest: Mapping[str, Reading], now: datetime
) -> list[CompartmentView]:
    views = []
    for fridge in settings.fridges:
        for compartment in fridge.compartments:
            ref = fridge.ref(compartment)
            probes = [
                probe_view(probe, latest.get(probe.code), now)
                for probe in settings.probes
                if probe.compartment == ref
            ]
            fresh = [view for view in probes if view.temperature is not None]
            newest = max(fresh, key=lambda view: view.taken_at or now, default=None)
            views.append(
                CompartmentView(
                    fridge,
                    compartment,
                    classify(compartment, probes),
                    newest.temperature if newest else None,
                    newest.taken_at if newest else None,
                    probes,
                )
            )
    return views
