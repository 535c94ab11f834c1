"""Simulated Modbus probes: scenario values laid out in each device's register map.

A `SimulatedChannel` is one probe: a channel of a device (a multi-channel logger has several
channels on one device id; they share the device's register profile). `ModbusSimulator`
groups the channels into `SimulatedDevice`s and computes registers at the moment of a read,
at `clock.monotonic()` seconds since the simulator was made: a `ScaledClock` runs scenarios
faster than real time, a `FakeClock` lets a test move them. It also decides, per reply,
whether the bus delivers it, loses it or garbles its CRC (`Fate`), from the scenarios and
from `DeviceFaults` that tests flip at run time. Transport-free: `modbus_server` serves it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from firmware_sim.scenarios import Sample, Scenario, build_scenario
from gateway.core.clock import Clock
from gateway.core.compartments import CompartmentKind, FridgeSettings, find_compartment
from probes.modbus_decode import decode_channel, encode_humidity, encode_temperature
from probes.profiles import RegisterProfile
from probes.reading import ProbeStatus
from probes.settings import ModbusProbe, RtuBus, TcpBus

Fate = Literal["send", "drop", "corrupt"]

# Raw words for a disconnected probe on a profile without a sentinel: values no real sensor of
# that data type produces, which the decoder classifies as out of range.
_NO_SENSOR_WORDS: dict[str, list[int]] = {
    "int16": [0x8000],
    "uint16": [0xFFFF],
    "int32": [0x8000, 0x0000],
    "uint32": [0xFFFF, 0xFFFF],
    "float32": [0x7FC0, 0x0000],  # NaN
}


@dataclass(frozen=True, slots=True)
class SimulatedChannel:
    """One simulated probe. `label` (probe code, compartment) only appears in descriptions."""

    device_id: int
    channel: int
    profile: RegisterProfile
    kind: CompartmentKind
    scenario: Scenario
    label: str = ""


@dataclass(slots=True)
class DeviceFaults:
    """Faults a test switches on at run time, on top of what the device's scenarios do.

    `silent`: no reply at all. `bad_crc`: every RTU reply has a corrupted CRC (TCP has no CRC
    and ignores it). `drop_probability`: share of replies lost.
    """

    silent: bool = False
    bad_crc: bool = False
    drop_probability: float = 0.0


def _disconnected_words(profile: RegisterProfile) -> list[int]:
    """What the temperature registers hold when the probe is unplugged or broken."""
    width = profile.temperature.width
    if profile.disconnected:
        sentinel = profile.disconnected[0]
        return [sentinel] if width == 1 else [sentinel >> 16, sentinel & 0xFFFF]
    words = _NO_SENSOR_WORDS[profile.temperature.datatype]
    block = [0] * profile.channel_stride
    offset = profile.temperature.offset
    block[offset : offset + width] = words
    start = profile.first_address
    if decode_channel(profile, 0, start, block).status is ProbeStatus.OK:
        raise ValueError(
            f"profile {profile.name}: cannot show a disconnected probe, raw {words} decodes as "
            "a valid temperature: declare its no-sensor value under `disconnected`"
        )
    return words


class SimulatedDevice:
    """One Modbus device id: its channels, register layout, fault controls and reply dice."""

    def __init__(self, device_id: int, channels: Sequence[SimulatedChannel], seed: int) -> None:
        if not 1 <= device_id <= 247:
            raise ValueError(f"device id {device_id}: a Modbus device id is from 1 to 247")
        profile = channels[0].profile
        for channel in channels:
            if channel.profile != profile:
                raise ValueError(
                    f"device {device_id}: channels use profiles {profile.name} and "
                    f"{channel.profile.name}; one device has one register profile"
                )
            if not 0 <= channel.channel < profile.channels:
                raise ValueError(
                    f"device {device_id}: channel {channel.channel} but profile {profile.name} "
                    f"has channels 0 to {profile.channels - 1}"
                )
        by_index: dict[int, SimulatedChannel] = {}
        for channel in channels:
            if channel.channel in by_index:
                raise ValueError(
                    f"device {device_id}: channel {channel.channel} is simulated twice "
                    f"({by_index[channel.channel].label or 'unlabelled'} and "
                    f"{channel.label or 'unlabelled'}): simulate one bus at a time"
                )
            by_index[channel.channel] = channel
        self.device_id = device_id
        self.profile = profile
        self.channels: dict[int, SimulatedChannel] = dict(sorted(by_index.items()))
        self.faults = DeviceFaults()
        self._no_sensor = _disconnected_words(profile)
        self._rng = random.Random(f"bus/{seed}/{device_id}")

    def samples(self, elapsed_s: float) -> dict[int, Sample]:
        return {
            index: channel.scenario.sample(elapsed_s, channel.kind)
            for index, channel in self.channels.items()
        }

    def registers(self, elapsed_s: float) -> list[int]:
        """The device's whole register map, from `profile.first_address`.

        Channels without a simulated probe read as disconnected, like an empty logger input.
        """
        profile = self.profile
        samples = self.samples(elapsed_s)
        words: list[int] = []
        for index in range(profile.channels):
            block = [0] * profile.channel_stride
            sample = samples.get(index)
            if sample is None or sample.temperature is None:
                temperature = self._no_sensor
            else:
                temperature = encode_temperature(profile, sample.temperature)
                if profile.humidity is not None and sample.humidity is not None:
                    start = profile.humidity.offset
                    block[start : start + profile.humidity.width] = encode_humidity(
                        profile, sample.humidity
                    )
            start = profile.temperature.offset
            block[start : start + len(temperature)] = temperature
            words.extend(block)
        return words

    def fate(self, elapsed_s: float, *, crc: bool) -> Fate:
        """What the bus does with the reply being sent now; `crc` is False on TCP."""
        samples = self.samples(elapsed_s).values()
        if self.faults.silent or any(sample.silent for sample in samples):
            return "drop"
        drop = max([self.faults.drop_probability, *(s.drop_probability for s in samples)])
        if drop > 0 and self._rng.random() < drop:
            return "drop"
        if not crc:
            return "send"
        if self.faults.bad_crc:
            return "corrupt"
        corrupt = max(sample.corrupt_probability for sample in samples)
        if corrupt > 0 and self._rng.random() < corrupt:
            return "corrupt"
        return "send"

    def describe(self) -> str:
        probes = ", ".join(
            f"{channel.label or f'ch{index}'} {channel.scenario.name}"
            for index, channel in self.channels.items()
        )
        return f"device {self.device_id} {self.profile.name} [{probes}]"


class ModbusSimulator:
    """The simulated devices of one bus, on one clock. Time zero is when it was made, or
    `elapsed_s` before that for a world that resumes (the demo restarted on its data folder).

    `seed` makes the random bus faults reproducible; scenarios carry their own seeds.
    """

    def __init__(
        self,
        channels: Iterable[SimulatedChannel],
        clock: Clock,
        *,
        seed: int = 0,
        elapsed_s: float = 0.0,
    ) -> None:
        grouped: dict[int, list[SimulatedChannel]] = defaultdict(list)
        for channel in channels:
            grouped[channel.device_id].append(channel)
        if not grouped:
            raise ValueError("a simulator needs at least one simulated channel")
        self.devices: dict[int, SimulatedDevice] = {
            device_id: SimulatedDevice(device_id, group, seed)
            for device_id, group in sorted(grouped.items())
        }
        self.clock = clock
        self._start = clock.monotonic() - elapsed_s

    def elapsed(self) -> float:
        """Simulated seconds since the world began."""
        return self.clock.monotonic() - self._start

    def device(self, device_id: int) -> SimulatedDevice:
        try:
            return self.devices[device_id]
        except KeyError:
            known = ", ".join(map(str, self.devices))
            raise KeyError(f"device {device_id} is not simulated: use one of {known}") from None

    def faults(self, device_id: int) -> DeviceFaults:
        """The run-time fault controls of one device, to flip from a test."""
        return self.device(device_id).faults

    def registers(self, device_id: int) -> list[int]:
        return self.device(device_id).registers(self.elapsed())

    def sample(self, device_id: int, channel: int) -> Sample:
        """What one probe shows now: the value a client should decode."""
        device = self.device(device_id)
        return device.channels[channel].scenario.sample(
            self.elapsed(), device.channels[channel].kind
        )

    def fate(self, device_id: int, *, crc: bool) -> Fate:
        return self.device(device_id).fate(self.elapsed(), crc=crc)

    def describe(self) -> str:
        return "; ".join(device.describe() for device in self.devices.values())


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """A probe to simulate, as a configuration names it: by profile name and compartment ref."""

    code: str
    device_id: int
    channel: int
    profile: str
    compartment: str
    kind: CompartmentKind


class ModbusClinic(Protocol):
    """What the simulator reads of a gateway configuration (the root `Settings` is one)."""

    @property
    def buses(self) -> Sequence[RtuBus | TcpBus]: ...

    @property
    def fridges(self) -> Sequence[FridgeSettings]: ...

    def probes_of(self, kind: type[ModbusProbe]) -> list[ModbusProbe]: ...

    def all_profiles(self) -> dict[str, RegisterProfile]: ...


def probe_specs(settings: ModbusClinic, *, bus: str | None = None) -> list[ProbeSpec]:
    """The Modbus probes of a gateway configuration, optionally those of one bus only."""
    if bus is not None and bus not in {item.name for item in settings.buses}:
        names = ", ".join(item.name for item in settings.buses) or "(none)"
        raise ValueError(f"no bus named {bus!r} in the configuration: use one of {names}")
    return [
        ProbeSpec(
            code=probe.code,
            device_id=probe.device_id,
            channel=probe.channel,
            profile=probe.profile,
            compartment=probe.compartment,
            kind=find_compartment(settings.fridges, probe.compartment)[1].kind,
        )
        for probe in settings.probes_of(ModbusProbe)
        if bus is None or probe.bus == bus
    ]


def first_refrigerated(specs: Sequence[ProbeSpec]) -> str:
    """The compartment ref of the first refrigerated probe: where a demo scenario goes."""
    for spec in specs:
        if spec.kind is CompartmentKind.REFRIGERATED:
            return spec.compartment
    raise ValueError("no probe sits in a refrigerated compartment: name a probe or compartment")


def build_channels(
    specs: Iterable[ProbeSpec],
    profiles: Mapping[str, RegisterProfile],
    scenarios: Mapping[str, str] | None = None,
    *,
    seed: int = 0,
) -> list[SimulatedChannel]:
    """Channels for these probes; `scenarios` maps probe code or compartment ref to a scenario.

    A probe code wins over its compartment's ref; probes named in neither are `steady`. Each
    channel's scenario gets its own seed derived from `seed`, so fridges do not move in step.
    """
    specs = list(specs)
    assigned = dict(scenarios or {})
    targets = {spec.code for spec in specs} | {spec.compartment for spec in specs}
    unknown = sorted(set(assigned) - targets)
    if unknown:
        raise ValueError(
            f"scenario assigned to {', '.join(unknown)}, which is neither a probe code nor a "
            f"compartment here: use one of {', '.join(sorted(targets))}"
        )
    channels = []
    for spec in specs:
        try:
            profile = profiles[spec.profile]
        except KeyError:
            raise ValueError(
                f"probe {spec.code}: unknown register profile {spec.profile!r}: use one of "
                f"{', '.join(sorted(profiles))}"
            ) from None
        name = assigned.get(spec.code) or assigned.get(spec.compartment) or "steady"
        channel_seed = seed * 100_000 + spec.device_id * 100 + spec.channel
        channels.append(
            SimulatedChannel(
                device_id=spec.device_id,
                channel=spec.channel,
                profile=profile,
                kind=spec.kind,
                scenario=build_scenario(name, seed=channel_seed),
                label=f"{spec.code} {spec.compartment}",
            )
        )
    return channels


def channels_for_settings(
    settings: ModbusClinic,
    scenarios: Mapping[str, str] | None = None,
    *,
    bus: str | None = None,
    seed: int = 0,
) -> list[SimulatedChannel]:
    """Channels for a gateway configuration's Modbus probes (see `build_channels`)."""
    return build_channels(
        probe_specs(settings, bus=bus), settings.all_profiles(), scenarios, seed=seed
    )
