"""What a simulated probe shows over time. Pure: no asyncio, no I/O, deterministic per seed.

A scenario maps the seconds elapsed since the simulation started, and the kind of compartment
the probe sits in, to a `Sample`: a temperature (or a disconnected probe), whether the device
answers at all, and how badly the bus behaves. Every scenario starts from the same baseline, a
compressor cycle: the compartment warms slowly while the compressor rests and cools quickly
while it runs (refrigerated 3.5-6.0 °C over 40 min, frozen -22 to -18 °C over 60 min). The
seed shifts the phase of that cycle, so fridges do not move in lockstep, and places the random
events (door openings, dropped replies) reproducibly.
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import ClassVar

from gateway.core.compartments import DEFAULT_RANGES, CompartmentKind


@dataclass(frozen=True, slots=True)
class Sample:
    """What a probe shows at one instant.

    `temperature` is None when the probe reads "disconnected" (the device still answers).
    `silent` means the whole device does not answer (power cut). The probabilities say how
    often a reply is lost on the bus or arrives with a corrupted CRC (RTU only).
    """

    temperature: float | None
    humidity: float | None = None
    silent: bool = False
    drop_probability: float = 0.0
    corrupt_probability: float = 0.0

    @property
    def disconnected(self) -> bool:
        return self.temperature is None


@dataclass(frozen=True, slots=True)
class _Cycle:
    low: float
    high: float
    period_s: float
    humidity: float


_CYCLES: dict[CompartmentKind, _Cycle] = {
    CompartmentKind.REFRIGERATED: _Cycle(low=3.5, high=6.0, period_s=40 * 60, humidity=45.0),
    CompartmentKind.FROZEN: _Cycle(low=-22.0, high=-18.0, period_s=60 * 60, humidity=60.0),
}
_WARMING_SHARE = 0.75  # the compressor rests for three quarters of a cycle
_UPPER_LIMITS: dict[CompartmentKind, float] = {
    kind: high for kind, (_, high) in DEFAULT_RANGES.items() if high is not None
}


@lru_cache(maxsize=1024)
def _phase(seed: int) -> float:
    return random.Random(f"phase/{seed}").random()


def _level(kind: CompartmentKind, elapsed_s: float, seed: int) -> float:
    """Where the compressor cycle stands: 0 at its coldest, 1 at its warmest."""
    phase = (elapsed_s / _CYCLES[kind].period_s + _phase(seed)) % 1.0
    if phase < _WARMING_SHARE:
        return phase / _WARMING_SHARE
    return (1.0 - phase) / (1.0 - _WARMING_SHARE)


def baseline_temperature(kind: CompartmentKind, elapsed_s: float, seed: int = 0) -> float:
    """A healthy compartment's temperature: the thermostat's sawtooth."""
    cycle = _CYCLES[kind]
    return cycle.low + (cycle.high - cycle.low) * _level(kind, elapsed_s, seed)


def baseline(kind: CompartmentKind, elapsed_s: float, seed: int = 0) -> Sample:
    """A healthy compartment: the thermostat's sawtooth, humidity following it."""
    humidity = _CYCLES[kind].humidity + 10.0 * _level(kind, elapsed_s, seed)
    return Sample(temperature=baseline_temperature(kind, elapsed_s, seed), humidity=humidity)


def _approach(start: float, target: float, elapsed_s: float, tau_s: float) -> float:
    """Newton's law: from `start` towards `target` with time constant `tau_s`."""
    return target + (start - target) * math.exp(-elapsed_s / tau_s)


def _positive(scenario: Scenario, *names: str) -> None:
    for name in names:
        value = getattr(scenario, name)
        if not value > 0:
            raise ValueError(f"scenario {scenario.name}: {name} must be positive, got {value}")


def _probability(scenario: Scenario, *names: str) -> None:
    for name in names:
        value = getattr(scenario, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(
                f"scenario {scenario.name}: {name} is a probability from 0 to 1, got {value}"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario(ABC):
    """A probe's story. Subclasses are frozen dataclasses whose fields are its parameters."""

    name: ClassVar[str]
    seed: int = 0

    @abstractmethod
    def sample(self, elapsed_s: float, kind: CompartmentKind) -> Sample:
        """What the probe shows `elapsed_s` seconds after the simulation started."""

    def _baseline(self, elapsed_s: float, kind: CompartmentKind) -> Sample:
        return baseline(kind, elapsed_s, self.seed)

    def _temperature(self, elapsed_s: float, kind: CompartmentKind) -> float:
        return baseline_temperature(kind, elapsed_s, self.seed)


@dataclass(frozen=True, slots=True, kw_only=True)
class Steady(Scenario):
    """A healthy fridge: the baseline compressor cycle, forever."""

    name: ClassVar[str] = "steady"

    def sample(self, elapsed_s: float, kind: CompartmentKind) -> Sample:
        return self._baseline(elapsed_s, kind)


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorOpening(Scenario):
    """The door opens about every `interval_s` and stays open long enough to cross the upper
    limit briefly: what the too-warm hold-off (15 min) is for, so no one is paged.

    Opening k happens at `first_s + k * interval_s` plus a seeded jitter below `jitter_s`.
    While the door is open (`open_s`) the compartment warms linearly to `overshoot_c` (times a
    seeded factor from 0.8 to 1.2) above its default upper limit (8 °C refrigerated, -15 °C
    frozen), whatever the compressor's phase; once it is shut the excess decays with `decay_s`.
    With the defaults each opening stays above the limit for 1.5 to 4 minutes.
    """

    name: ClassVar[str] = "door-opening"
    first_s: float = 30 * 60
    interval_s: float = 2 * 3600
    jitter_s: float = 10 * 60
    open_s: float = 3 * 60
    overshoot_c: float = 1.5
    decay_s: float = 4 * 60

    def __post_init__(self) -> None:
        _positive(self, "interval_s", "open_s", "decay_s", "overshoot_c")
        if not 0 <= self.jitter_s < self.interval_s:
            raise ValueError(
                f"scenario {self.name}: jitter_s must be from 0 to below interval_s "
                f"({self.interval_s}), got {self.jitter_s}"
            )

    def _opening(self, index: int) -> tuple[float, float]:
        """When opening `index` starts, and how far above the limit it peaks."""
        rng = random.Random(f"door/{self.seed}/{index}")
        start = self.first_s + index * self.interval_s + rng.uniform(0.0, self.jitter_s)
        return start, self.overshoot_c * rng.uniform(0.8, 1.2)

    def _spike(self, elapsed_s: float, kind: CompartmentKind) -> float:
        if elapsed_s < self.first_s:
            return 0.0
        current = int((elapsed_s - self.first_s) // self.interval_s)
        total = 0.0
        for index in range(max(current - 1, 0), current + 1):
            start, overshoot = self._opening(index)
            since = elapsed_s - start
            if since < 0:
                continue
            shut = start + self.open_s
            rise = _UPPER_LIMITS[kind] + overshoot - self._temperature(shut, kind)
            if since < self.open_s:
                total += rise * since / self.open_s
            else:
                total += rise * math.exp(-(since - self.open_s) / self.decay_s)
        return total

    def sample(self, elapsed_s: float, kind: CompartmentKind) -> Sample:
        temperature = self._temperature(elapsed_s, kind) + self._spike(elapsed_s, kind)
        return Sample(temperature=temperature, humidity=self._baseline(elapsed_s, kind).humidity)


@dataclass(frozen=True, slots=True, kw_only=True)
class CompressorFailure(Scenario):
    """From `onset_s` the compressor stops for good: a slow exponential rise toward `ambient_c`.

    The time constant is chosen from the temperature at onset so that the compartment passes
    its default upper limit (8 °C refrigerated, -15 °C frozen) exactly `crossing_s` after the
    onset, whatever the phase of the compressor cycle was then.
    """

    name: ClassVar[str] = "compressor-failure"
    onset_s: float = 10 * 60
    crossing_s: float = 40 * 60
    ambient_c: float = 25.0

    def __post_init__(self) -> None:
        _positive(self, "crossing_s")
        if not self.ambient_c > max(_UPPER_LIMITS.values()):
            raise ValueError(
                f"scenario {self.name}: ambient_c must be above {max(_UPPER_LIMITS.values())} "
                f"°C for a fridge to warm past its limit, got {self.ambient_c}"
            )

    def sample(self, elapsed_s: float, kind: CompartmentKind) -> Sample:
        base = self._baseline(elapsed_s, kind)
        if elapsed_s < self.onset_s:
            return base
        start = self._temperature(self.onset_s, kind)
        limit = _UPPER_LIMITS[kind]
        tau_s = self.crossing_s / math.log((self.ambient_c - start) / (self.ambient_c - limit))
        temperature = _approach(start, self.ambient_c, elapsed_s - self.onset_s, tau_s)
        return Sample(temperature=temperature, humidity=base.humidity)


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerCut(Scenario):
    """From `onset_s` for `duration_s` the device is silent and the compartment warms.

    Warming approaches `ambient_c` with time constant `warm_tau_s`; once power is back the
    device answers again and the compartment cools back to its cycle with `recover_tau_s`.
    """

    name: ClassVar[str] = "power-cut"
    onset_s: float = 10 * 60
    duration_s: float = 2 * 3600
    warm_tau_s: float = 4 * 3600
    recover_tau_s: float = 20 * 60
    ambient_c: float = 25.0

    def __post_init__(self) -> None:
        _positive(self, "duration_s", "warm_tau_s", "recover_tau_s")

    def _warmed(self, elapsed_s: float, kind: CompartmentKind) -> float:
        start = self._temperature(self.onset_s, kind)
        return _approach(start, self.ambient_c, elapsed_s - self.onset_s, self.warm_tau_s)

    def sample(self, elapsed_s: float, kind: CompartmentKind) -> Sample:
        base = self._baseline(elapsed_s, kind)
        restored_s = self.onset_s + self.duration_s
        if elapsed_s < self.onset_s:
            return base
        if elapsed_s < restored_s:
            warmed = self._warmed(elapsed_s, kind)
            return Sample(temperature=warmed, humidity=base.humidity, silent=True)
        excess = self._warmed(restored_s, kind) - self._temperature(restored_s, kind)
        temperature = self._temperature(elapsed_s, kind) + _approach(
            excess, 0.0, elapsed_s - restored_s, self.recover_tau_s
        )
        return Sample(temperature=temperature, humidity=base.humidity)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThermostatFault(Scenario):
    """From `onset_s` the thermostat sticks on: the compressor never rests.

    A refrigerated compartment cools toward `refrigerated_target_c` (below freezing, the
    danger for vaccines), a frozen one toward `frozen_target_c`.
    """

    name: ClassVar[str] = "thermostat-fault"
    onset_s: float = 10 * 60
    tau_s: float = 30 * 60
    refrigerated_target_c: float = -4.0
    frozen_target_c: float = -30.0

    def __post_init__(self) -> None:
        _positive(self, "tau_s")

    def sample(self, elapsed_s: float, kind: CompartmentKind) -> Sample:
        base = self._baseline(elapsed_s, kind)
        if elapsed_s < self.onset_s:
            return base
        start = self._temperature(self.onset_s, kind)
        target = (
            self.refrigerated_target_c
            if kind is CompartmentKind.REFRIGERATED
            else self.frozen_target_c
        )
        temperature = _approach(start, target, elapsed_s - self.onset_s, self.tau_s)
        return Sample(temperature=temperature, humidity=base.humidity)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeDisconnected(Scenario):
    """From `onset_s` the probe reads "disconnected"; the device itself keeps answering."""

    name: ClassVar[str] = "probe-disconnected"
    onset_s: float = 10 * 60

    def sample(self, elapsed_s: float, kind: CompartmentKind) -> Sample:
        if elapsed_s < self.onset_s:
            return self._baseline(elapsed_s, kind)
        return Sample(temperature=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class FlakyBus(Scenario):
    """From `onset_s` the temperature is steady but the bus misbehaves.

    A share `drop_probability` of replies is lost; on RTU a share `corrupt_probability` of the
    others arrives with a corrupted CRC.
    """

    name: ClassVar[str] = "flaky-bus"
    onset_s: float = 0.0
    drop_probability: float = 0.2
    corrupt_probability: float = 0.1

    def __post_init__(self) -> None:
        _probability(self, "drop_probability", "corrupt_probability")

    def sample(self, elapsed_s: float, kind: CompartmentKind) -> Sample:
        base = self._baseline(elapsed_s, kind)
        if elapsed_s < self.onset_s:
            return base
        return Sample(
            temperature=base.temperature,
            humidity=base.humidity,
            drop_probability=self.drop_probability,
            corrupt_probability=self.corrupt_probability,
        )


SCENARIOS: dict[str, type[Scenario]] = {
    scenario.name: scenario
    for scenario in (
        Steady,
        DoorOpening,
        CompressorFailure,
        PowerCut,
        ThermostatFault,
        ProbeDisconnected,
        FlakyBus,
    )
}


def build_scenario(name: str, *, seed: int = 0, **params: float) -> Scenario:
    """The scenario registered under `name`, with its defaults overridden by `params`."""
    try:
        scenario = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}: use one of {', '.join(SCENARIOS)}") from None
    known = {field.name for field in fields(scenario)} - {"seed"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(
            f"scenario {name} has no parameter {', '.join(unknown)}: use "
            f"{', '.join(sorted(known)) or '(none)'}"
        )
    return scenario(seed=seed, **params)
