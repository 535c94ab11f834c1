"""A month (October 2026) of 5-minute readings from firmware_sim scenarios with known
excursions, plus alarm events, as line protocol for a real influxd.

| clinic      | region | story                                                       |
|-------------|--------|-------------------------------------------------------------|
| 6101030201  | 610103 | compressor failure Oct 10 00:02, crossing 8 °C at 00:42,    |
|             |        | repaired 12:00 (back to baseline); plus a steady freezer     |
| 6101030202  | 610103 | thermostat fault Oct 20 00:02 (cools toward -4 °C), fixed 06:00 |
| 6101040301  | 610104 | power cut Oct 5 02:02 for 3 h: no readings, warm on return  |
| 6101040302  | 610104 | steady; plus clock-shifted points in 2000 and 2027          |
| 6101050401  | 610105 | wrote in September only: no data in October                 |

Exposure points (`coldchain_exposure`, as the gateways' exposure lanes write them): the
compressor failure exposed 12 + 8 doses, the thermostat fault 5, the power cut nothing; a
September and a November excursion stay out of October: 25 doses in the month.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from firmware_sim.scenarios import (
    CompressorFailure,
    PowerCut,
    Scenario,
    Steady,
    ThermostatFault,
)
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.compartments import CompartmentKind
from gateway.forward.alarm_events import AlarmEvent, alarm_event_line
from gateway.forward.exposure_events import ExposureEvent, exposure_event_line
from gateway.forward.line_protocol import series_key
from gateway.forward.tags import Identity
from gateway.storage.readings import from_millis

MONTH = "2026-10"
START = datetime(2026, 10, 1, tzinfo=CLINIC_TZ)
START_MS = int(START.timestamp() * 1000)
END_MS = int(datetime(2026, 11, 1, tzinfo=CLINIC_TZ).timestamp() * 1000)
STEP_MS = 5 * 60_000
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def at(day: int, hour: int = 0, minute: int = 0) -> int:
    """ms of October `day` at local hour:minute."""
    return int(datetime(2026, 10, day, hour, minute, tzinfo=CLINIC_TZ).timestamp() * 1000)


@dataclass(frozen=True)
class Probe:
    region: str
    unit: str
    fridge: str
    compartment: str
    kind: CompartmentKind
    code: str
    temperature: Callable[[int], float | None]  # None: no reading (silent)

    def key(self) -> str:
        return series_key(
            "coldchain",
            (
                ("region", self.region),
                ("unit", self.unit),
                ("gateway", self.unit[-5:]),
                ("fridge", self.fridge),
                ("compartment", self.compartment),
                ("kind", str(self.kind)),
                ("probe", self.code),
            ),
        )


def _scenario(
    scenario: Scenario, kind: CompartmentKind, until_ms: int | None = None
) -> Callable[[int], float | None]:
    """The scenario's temperature at t, back to the baseline after `until_ms` (a repair)."""

    def temperature(t: int) -> float | None:
        elapsed = (t - START_MS) / 1000
        if until_ms is not None and t >= until_ms:
            return Steady(seed=scenario.seed).sample(elapsed, kind).temperature
        sample = scenario.sample(elapsed, kind)
        return None if sample.silent else sample.temperature

    return temperature


R, F = CompartmentKind.REFRIGERATED, CompartmentKind.FROZEN
COMPRESSOR_ONSET = at(10, 0, 2)
COMPRESSOR_REPAIR = at(10, 12, 0)
THERMOSTAT_ONSET = at(20, 0, 2)
THERMOSTAT_FIX = at(20, 6, 0)
POWER_ONSET = at(5, 2, 2)
POWER_HOURS = 3


def _seconds(t: int) -> float:
    return (t - START_MS) / 1000


PROBES = [
    Probe(
        "610103",
        "6101030201",
        "F1",
        "冷藏",
        R,
        "208601",
        _scenario(
            CompressorFailure(seed=1, onset_s=_seconds(COMPRESSOR_ONSET), crossing_s=40 * 60),
            R,
            COMPRESSOR_REPAIR,
        ),
    ),
    Probe("610103", "6101030201", "F1", "冷冻", F, "208602", _scenario(Steady(seed=2), F)),
    Probe(
        "610103",
        "6101030202",
        "F1",
        "冷藏",
        R,
        "208701",
        _scenario(ThermostatFault(seed=3, onset_s=_seconds(THERMOSTAT_ONSET)), R, THERMOSTAT_FIX),
    ),
    Probe(
        "610104",
        "6101040301",
        "F1",
        "冷藏",
        R,
        "208801",
        _scenario(
            PowerCut(seed=4, onset_s=_seconds(POWER_ONSET), duration_s=POWER_HOURS * 3600), R
        ),
    ),
    Probe("610104", "6101040302", "F1", "冷藏", R, "208901", _scenario(Steady(seed=5), R)),
]
NO_DATA = Probe("610105", "6101050401", "F1", "冷藏", R, "209001", _scenario(Steady(seed=6), R))


def readings(probe: Probe) -> list[tuple[int, float]]:
    """(time ms, temperature) of every reading the probe sent in October."""
    out = []
    for t in range(START_MS, END_MS, STEP_MS):
        value = probe.temperature(t)
        if value is not None:
            out.append((t, value))
    return out


def lines() -> Iterator[str]:
    for probe in PROBES:
        prefix = probe.key()
        for t, value in readings(probe):
            yield f"{prefix} temperature={value!r},status=0i {t}"
    # clock-shifted points of the steady clinic: far in the past and in the future
    shifted = PROBES[4].key()
    yield f"{shifted} temperature=30.0,status=0i 946684800000"
    yield f"{shifted} temperature=30.0,status=0i 1800000000000"
    # the no-data clinic wrote in September only
    yield f"{NO_DATA.key()} temperature=5.0,status=0i {START_MS - 15 * DAY}"
    yield from alarm_lines()
    yield from exposure_lines()


def _alarm(
    probe: Probe,
    alarm: str,
    condition: str,
    event: str,
    t: int,
    tier: int | None = None,
    who: str | None = None,
    value: float | None = None,
) -> str:
    """The line a gateway's alarm-event forwarder writes for this transition."""
    identity = Identity(probe.unit, probe.unit[-5:], {}, probe.region)
    gateway_wide = condition == "gateway_power"
    forwarded = AlarmEvent(
        seq=next(_SEQ),
        alarm=alarm,
        condition=condition,
        event=event,
        at=from_millis(t),
        fridge=None if gateway_wide else probe.fridge,
        compartment=None if condition in ("gateway_power", "battery_low") else probe.compartment,
        probe=None if gateway_wide else probe.code,
        tier=tier,
        who=who,
        value=value,
    )
    return alarm_event_line(forwarded, identity)


_SEQ = itertools.count(1)


def alarm_lines() -> list[str]:
    a, b, c = PROBES[0], PROBES[2], PROBES[3]
    return [
        # A: too warm at 01:00, tier 2 and 3 reached, acknowledged after 70 min
        _alarm(a, "A-1", "too_warm", "opened", at(10, 1, 0), value=9.1),
        _alarm(a, "A-1", "too_warm", "tier_notified", at(10, 1, 0), tier=1),
        _alarm(a, "A-1", "too_warm", "tier_notified", at(10, 1, 30), tier=2),
        _alarm(a, "A-1", "too_warm", "tier_notified", at(10, 2, 0), tier=3),
        _alarm(a, "A-1", "too_warm", "acknowledged", at(10, 2, 10), who="p-li"),
        _alarm(a, "A-1", "too_warm", "acknowledged", at(10, 2, 40), who="p-wang"),
        _alarm(a, "A-1", "too_warm", "cleared", at(10, 12, 0)),
        _alarm(a, "A-1", "too_warm", "closed", at(10, 12, 30), who="p-li"),
        # B: too cold, acknowledged after 15 min
        _alarm(b, "B-1", "too_cold", "opened", at(20, 0, 30)),
        _alarm(b, "B-1", "too_cold", "tier_notified", at(20, 0, 30), tier=1),
        _alarm(b, "B-1", "too_cold", "acknowledged", at(20, 0, 45), who="p-zhao"),
        # C: gateway power (no fridge), tier 2, acknowledged after 50 min
        _alarm(c, "C-1", "gateway_power", "opened", at(5, 2, 10)),
        _alarm(c, "C-1", "gateway_power", "tier_notified", at(5, 2, 10), tier=1),
        _alarm(c, "C-1", "gateway_power", "tier_notified", at(5, 2, 40), tier=2),
        _alarm(c, "C-1", "gateway_power", "acknowledged", at(5, 3, 0), who="p-sun"),
        # C: battery low on the fridge, never acknowledged
        _alarm(c, "C-2", "battery_low", "opened", at(25, 9, 0), value=2.9),
        # C: an alarm of September (not in October's figures)
        _alarm(c, "C-0", "too_warm", "opened", START_MS - 2 * DAY),
        _alarm(c, "C-0", "too_warm", "acknowledged", START_MS - 2 * DAY + 10 * MINUTE),
    ]


def _exposure(probe: Probe, excursion: str, t: int, vaccine: str | None, doses: int) -> str:
    """The line a gateway's exposure lane writes for what an excursion exposed of a vaccine."""
    identity = Identity(probe.unit, probe.unit[-5:], {}, probe.region)
    event = ExposureEvent(
        seq=1, excursion=excursion, fridge=probe.fridge, compartment=probe.compartment,
        vaccine=vaccine, start=from_millis(t), doses=doses, packages=doses // 2,
        minutes_above=60.0, minutes_below=0.0, peak_c=11.0, trough_c=5.0,
    )  # fmt: skip
    return exposure_event_line(event, identity)


EXPOSED_DOSES = {"6101030201": 20, "6101030202": 5, "6101040301": 0, "6101040302": 0}


def exposure_lines() -> list[str]:
    a, b, c = PROBES[0], PROBES[2], PROBES[3]
    return [
        _exposure(a, "alarm-1-8", at(10, 0, 45), "0201", 12),
        _exposure(a, "alarm-1-8", at(10, 0, 45), "5603", 8),
        _exposure(b, "alarm-4-3", at(20, 0, 30), "0201", 5),
        _exposure(c, "alarm-7-2", at(5, 5, 5), None, 0),
        # September and November: not October's
        _exposure(c, "alarm-6-9", START_MS - 2 * DAY, "0201", 30),
        _exposure(a, "alarm-2-4", END_MS + 30 * MINUTE, "5603", 7),
    ]
