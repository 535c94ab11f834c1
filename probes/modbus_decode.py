"""Pure decoding of Modbus register blocks into probe values. No I/O, no asyncio."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from probes.profiles import FieldMap, RegisterProfile
from probes.reading import ProbeStatus


@dataclass(frozen=True, slots=True)
class ChannelValue:
    status: ProbeStatus
    temperature: float | None
    humidity: float | None
    raw: int


def _raw_value(field: FieldMap, words: Sequence[int]) -> int | float:
    if field.datatype == "int16":
        return words[0] - 0x10000 if words[0] & 0x8000 else words[0]
    if field.datatype == "uint16":
        return words[0]
    combined = (words[0] << 16) | words[1]
    if field.datatype == "int32":
        return combined - 0x1_0000_0000 if combined & 0x8000_0000 else combined
    if field.datatype == "uint32":
        return combined
    decoded: float = struct.unpack(">f", combined.to_bytes(4, "big"))[0]
    return decoded


def _field_words(
    profile: RegisterProfile, field: FieldMap, channel: int, block_start: int, block: Sequence[int]
) -> Sequence[int]:
    first = profile.first_address + channel * profile.channel_stride + field.offset - block_start
    if first < 0 or first + field.width > len(block):
        raise ValueError(
            f"profile {profile.name}: channel {channel} lies outside the {len(block)} registers "
            f"read from address {block_start}"
        )
    return block[first : first + field.width]


def _scaled(field: FieldMap, raw: int | float) -> float:
    return round(raw * field.scale + field.shift, 6)


def decode_channel(
    profile: RegisterProfile, channel: int, block_start: int, block: Sequence[int]
) -> ChannelValue:
    """Decode one channel from a block of registers read starting at `block_start`."""
    words = _field_words(profile, profile.temperature, channel, block_start, block)
    raw_words = words[0] if profile.temperature.width == 1 else (words[0] << 16) | words[1]
    if raw_words in profile.disconnected:
        return ChannelValue(ProbeStatus.DISCONNECTED, None, None, raw_words)
    raw = _raw_value(profile.temperature, words)
    temperature = _scaled(profile.temperature, raw)
    if math.isnan(temperature) or not (profile.physical_min <= temperature <= profile.physical_max):
        return ChannelValue(ProbeStatus.OUT_OF_RANGE, None, None, raw_words)
    humidity = None
    if profile.humidity is not None:
        hum_words = _field_words(profile, profile.humidity, channel, block_start, block)
        humidity = _scaled(profile.humidity, _raw_value(profile.humidity, hum_words))
        if not 0.0 <= humidity <= 100.0:
            humidity = None
    return ChannelValue(ProbeStatus.OK, temperature, humidity, raw_words)


def encode_temperature(profile: RegisterProfile, celsius: float) -> list[int]:
    """Registers a device of this profile holds for a temperature (used by the simulator)."""
    return _encode(profile.temperature, celsius)


def encode_humidity(profile: RegisterProfile, percent: float) -> list[int]:
    if profile.humidity is None:
        return []
    return _encode(profile.humidity, percent)


def _encode(field: FieldMap, value: float) -> list[int]:
    raw = (value - field.shift) / field.scale
    if field.datatype == "float32":
        combined = int.from_bytes(struct.pack(">f", raw), "big")
        return [combined >> 16, combined & 0xFFFF]
    number = round(raw)
    if field.width == 1:
        return [number & 0xFFFF]
    combined = number & 0xFFFF_FFFF
    return [combined >> 16, combined & 0xFFFF]
