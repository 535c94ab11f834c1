"""A calibration check: a reference thermometer read next to a probe, judged. Pure.

The technician puts a reference thermometer beside the probe and enters what it shows. The
probe's own reading at that moment is the stored ok reading nearest in time within a short
window (a few polling intervals); with none, the check is refused, since a probe that is not
reporting cannot be judged. The difference (probe minus reference) passes within ±0.5 °C in a
refrigerated compartment and ±1 °C in a frozen one; a probe whose latest check failed needs
repair.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.core.compartments import CompartmentKind
from gateway.core.errors import GatewayError
from gateway.storage.readings import StoredReading
from probes.reading import ProbeStatus

TOLERANCE_C: dict[CompartmentKind, float] = {
    CompartmentKind.REFRIGERATED: 0.5,
    CompartmentKind.FROZEN: 1.0,
}
#: The shortest window searched for the probe's reading on either side of the check.
MIN_WINDOW = timedelta(minutes=5)
#: Temperatures a thermometer in a vaccine fridge can physically show; beyond, a typing error.
PLAUSIBLE_C = (-60.0, 60.0)


class CalibrationRefusedError(GatewayError):
    """A check that cannot be judged; `field` names the input at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Verdict:
    """The probe's reading compared with the reference."""

    probe_c: float
    probe_taken_at: datetime
    probe_seq: int
    difference_c: float
    tolerance_c: float

    @property
    def passed(self) -> bool:
        return abs(self.difference_c) <= self.tolerance_c


def window_for(interval_s: float) -> timedelta:
    """How far from the check the probe's reading may be: two polling intervals, at least
    `MIN_WINDOW`."""
    return max(MIN_WINDOW, timedelta(seconds=2 * interval_s))


def judge(
    probe: str,
    kind: CompartmentKind,
    reference_c: float,
    *,
    at: datetime,
    readings: Iterable[StoredReading],
    window: timedelta,
) -> Verdict:
    """Compare the ok reading of `probe` nearest to `at` (within `window`) with the reference;
    refused when the reference is implausible or the probe has no such reading."""
    low, high = PLAUSIBLE_C
    if not low <= reference_c <= high:
        raise CalibrationRefusedError(
            "reference_c",
            f"{reference_c} °C is not a thermometer reading in a vaccine fridge (allowed"
            f" {low:g} to {high:g} °C); check the number typed",
        )
    near = [
        item
        for item in readings
        if item.reading.probe == probe and abs(item.reading.taken_at - at) <= window
    ]
    usable = [item for item in near if item.reading.status is ProbeStatus.OK]
    if not usable:
        minutes = window.total_seconds() / 60
        seen = sorted({str(item.reading.status) for item in near})
        detail = f"only {', '.join(seen)} readings" if seen else "no reading"
        raise CalibrationRefusedError(
            "probe",
            f"probe {probe} has {detail} within {minutes:g} min of {at.isoformat()}; check that"
            " it reports an ok temperature (GET /api/health) and enter the check again",
        )
    nearest = min(usable, key=lambda item: (abs(item.reading.taken_at - at), -item.seq))
    temperature = nearest.reading.temperature
    if temperature is None:  # an ok reading always carries one (Reading's own rule)
        raise CalibrationRefusedError("probe", f"probe {probe}'s reading has no temperature")
    return Verdict(
        temperature,
        nearest.reading.taken_at,
        nearest.seq,
        round(temperature - reference_c, 2),
        TOLERANCE_C[kind],
    )
