"""The unit of measurement that flows from a driver to the store.

A reading always carries its probe's health. Only an `ok` reading carries a temperature: a
disconnected sensor, a value outside the sensor's physical range or a bus error is recorded as
such, never as a number that could be mistaken for the fridge's temperature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ProbeStatus(StrEnum):
    OK = "ok"
    DISCONNECTED = "disconnected"
    OUT_OF_RANGE = "out_of_range"
    BUS_ERROR = "bus_error"
    STALE = "stale"


STATUS_CODES: dict[ProbeStatus, int] = {status: index for index, status in enumerate(ProbeStatus)}
STATUS_BY_CODE: dict[int, ProbeStatus] = {code: status for status, code in STATUS_CODES.items()}


@dataclass(frozen=True, slots=True)
class Reading:
    """One acquisition of one probe.

    `taken_at` is the acquisition time (UTC, timezone-aware). `clock_synced` is False when the
    gateway's wall clock was not yet synchronised when the reading was taken.
    """

    probe: str
    taken_at: datetime
    status: ProbeStatus
    temperature: float | None = None
    humidity: float | None = None
    battery: float | None = None
    clock_synced: bool = True

    def __post_init__(self) -> None:
        if self.taken_at.tzinfo is None:
            raise ValueError(f"reading of probe {self.probe}: taken_at must be timezone-aware")
        if self.status is ProbeStatus.OK and self.temperature is None:
            raise ValueError(f"reading of probe {self.probe}: an ok reading needs a temperature")
        if self.status is not ProbeStatus.OK and self.temperature is not None:
            raise ValueError(
                f"reading of probe {self.probe}: a {self.status} reading must not carry a "
                "temperature"
            )
        for name in ("temperature", "humidity", "battery"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"reading of probe {self.probe}: {name} {value} is not a number")
