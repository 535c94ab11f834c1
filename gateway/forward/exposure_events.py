"""Exposure events to the county: each recorded excursion, once, with the doses it exposed.

The county has no stock data, so the gateway tells it what an excursion exposed: when the
excursion service records one, the exposure lane to InfluxDB (an `EventLane` whose cursor is
kept in the ledger file) writes one point per vaccine it exposed, or a single point without
`vaccine` (0 doses) when the compartment held nothing. The point's time is the
excursion's start, which is how the monthly figures attribute it to a month.

InfluxDB line protocol (measurement `coldchain_exposure`)::

    coldchain_exposure,compartment=<name>,excursion=<id>,fridge=<code>,gateway=<number>,
                       region=<code>,unit=<code>,vaccine=<code>
                       doses=<int>i,packages=<int>i,minutes_above=<float>,
                       minutes_below=<float>,peak_c=<float>,trough_c=<float>,seq=<int>i
                       <start, ms>

`doses` are the doses left in the exposed packages at the excursion's end; `minutes_above`,
`minutes_below`, `peak_c` and `trough_c` are measured against the compartment's range (the
temperatures only when a reading covered the excursion). `excursion` is a tag so that two
excursions of one compartment can never overwrite each other; there are few per month.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from gateway.core.compartments import CompartmentRef
from gateway.forward.event_lane import EventLane, EventSource
from gateway.forward.line_protocol import series_key
from gateway.forward.tags import Identity
from gateway.storage.readings import to_millis

if TYPE_CHECKING:
    from gateway.core.clock import Clock
    from gateway.storage.ledger.quarantine import Excursion

MEASUREMENT = "coldchain_exposure"
KIND = "exposure_events"


@dataclass(frozen=True, slots=True)
class ExposureEvent:
    """What one excursion exposed of one vaccine (`vaccine` None: nothing was exposed)."""

    seq: int
    excursion: str
    fridge: str
    compartment: str
    vaccine: str | None
    start: datetime
    doses: int
    packages: int
    minutes_above: float
    minutes_below: float
    peak_c: float | None
    trough_c: float | None


def exposure_events_of(
    seq: int, excursion: Excursion, vaccine_of: Callable[[str], str]
) -> list[ExposureEvent]:
    """Pure: the events of a recorded excursion, one per vaccine (`vaccine_of(product_id)`)."""
    doses: dict[str | None, int] = defaultdict(int)
    packages: dict[str | None, int] = defaultdict(int)
    for unit in excursion.units:
        vaccine = vaccine_of(unit.product_id)
        doses[vaccine] += unit.doses_left
        packages[vaccine] += 1
    ref = CompartmentRef.parse(excursion.compartment) or CompartmentRef(excursion.compartment, "")
    measured = excursion.exposure
    vaccines: list[str | None] = [*sorted(key for key in doses if key is not None)] or [None]
    return [
        ExposureEvent(
            seq=seq,
            excursion=excursion.excursion_id,
            fridge=ref.fridge,
            compartment=ref.compartment,
            vaccine=vaccine,
            start=excursion.start,
            doses=doses[vaccine],
            packages=packages[vaccine],
            minutes_above=measured.minutes_above,
            minutes_below=measured.minutes_below,
            peak_c=measured.peak_c,
            trough_c=measured.trough_c,
        )
        for vaccine in vaccines
    ]


def _float(name: str, value: float | None) -> list[str]:
    return [f"{name}={float(value)!r}"] if value is not None and math.isfinite(value) else []


def exposure_event_line(event: ExposureEvent, identity: Identity) -> str:
    """Pure: one event as InfluxDB line protocol (see the module docstring)."""
    key = series_key(
        MEASUREMENT,
        (
            *identity.tags(),
            ("fridge", event.fridge),
            ("compartment", event.compartment),
            ("vaccine", event.vaccine),
            ("excursion", event.excursion),
        ),
    )
    fields = [
        f"doses={event.doses}i",
        f"packages={event.packages}i",
        *_float("minutes_above", event.minutes_above),
        *_float("minutes_below", event.minutes_below),
        *_float("peak_c", event.peak_c),
        *_float("trough_c", event.trough_c),
        f"seq={event.seq}i",
    ]
    return f"{key} {','.join(fields)} {to_millis(event.start)}"


def exposure_lane(
    name: str,
    source: EventSource[ExposureEvent],
    send_body: Callable[[bytes], Awaitable[None]],
    identity: Identity,
    clock: Clock,
) -> EventLane[ExposureEvent]:
    """The lane that writes a source's exposure events through `send_body` (an InfluxDB sink's,
    which raises `ForwardError` when the server does not take them)."""

    async def deliver(events: Sequence[ExposureEvent]) -> None:
        await send_body("\n".join(exposure_event_line(e, identity) for e in events).encode())

    return EventLane(name, KIND, source, deliver, clock)
