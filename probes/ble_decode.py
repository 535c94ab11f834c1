"""BLE advertisement decoding: one advertisement in, decoded values or `BleDecodeError` out.

Pure: no asyncio, no I/O. The field's own parser libraries do the decoding wherever one exists
(bthome-ble, xiaomi-ble, inkbird-ble, govee-ble); each is imported only when a probe of that
format is configured, because together they cost ~30-40 MB on a Pi (they share Home Assistant's
bluetooth helper packages). Three formats have no library and are decoded here by hand, each
after its public format document:

- RuuviTag data format 5 ("RAWv2"): https://docs.ruuvi.com/communication/bluetooth-advertisements/data-format-5-rawv2
- ATC1441 and pvvx "custom" formats of the LYWSD03MMC custom firmware, service UUID 0x181A:
  https://github.com/pvvx/ATC_MiThermometer#custom-format-all-data-little-endian and
  https://github.com/atc1441/ATC_MiThermometer#advertising-format-of-the-custom-firmware

Each advertisement is decoded on its own. The parser libraries keep every value they ever
decoded and hand it back with the next update, so a library parser is made afresh for each
advertisement: one that carries no temperature (humidity-only, battery-only) yields no
channel, never the last temperature again. What a `Decoder` does keep across advertisements
is BTHome's encryption counter, to refuse a replayed advertisement as the library would.

A device may measure several temperatures: a Govee base and its remote sensor on one MAC, a
multi-probe thermometer, a BTHome device with several temperature objects. Each is a channel,
named from the library's entity: "" for a device's only temperature, the probe or object
number ("1", "2"...), the sub-device ("remote", "primary"), or both ("remote/2"). A probe is
bound to one MAC and one channel, like a Modbus logger's channel.
"""

from __future__ import annotations

import math
import re
import struct
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
XIAOMI_UUID = "0000fe95-0000-1000-8000-00805f9b34fb"
ENV_SENSING_UUID = "0000181a-0000-1000-8000-00805f9b34fb"
RUUVI_COMPANY_ID = 0x0499

# What the third-party parsers raise on malformed input; anything else is a bug to surface.
_PARSER_ERRORS = (ValueError, IndexError, KeyError, struct.error, TypeError, OverflowError)


class BleFormat(StrEnum):
    BTHOME = "bthome"
    XIAOMI = "xiaomi"
    ATC = "atc"  # LYWSD03MMC custom firmware, ATC1441 or pvvx custom format on 0x181A
    INKBIRD = "inkbird"
    GOVEE = "govee"
    RUUVI = "ruuvi"


class BleDecodeError(ValueError):
    """An advertisement could not be decoded; the message names the probe format and why."""


class UnknownFormatError(BleDecodeError):
    """The advertisement carries no payload of the expected format."""


class DecryptionError(BleDecodeError):
    """An encrypted payload could not be decrypted: missing or wrong bind key."""


@dataclass(frozen=True, slots=True)
class Advertisement:
    """The parts of one BLE advertisement the decoders read (bleak's AdvertisementData shape)."""

    address: str
    name: str | None = None
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    service_data: Mapping[str, bytes] = field(default_factory=dict)
    service_uuids: tuple[str, ...] = ()
    rssi: int = -127

    def fingerprint(self) -> tuple[object, ...]:
        """Identity of the packet for duplicate detection (RSSI is not part of it)."""
        return (
            tuple(sorted(self.manufacturer_data.items())),
            tuple(sorted(self.service_data.items())),
        )


MAIN = ""
"""The channel of a device's only temperature."""


@dataclass(frozen=True, slots=True)
class Channel:
    """One temperature channel of an advertisement; `temperature` None: the device says its
    sensor has no valid value (Ruuvi's "not available"), a fault rather than a silence."""

    temperature: float | None
    humidity: float | None = None


@dataclass(frozen=True, slots=True)
class Decoded:
    """Values of one advertisement: its temperature channels (none when it carries no
    temperature), `battery` in percent, None where the format has none."""

    channels: Mapping[str, Channel] = field(default_factory=dict)
    battery: float | None = None
    battery_voltage: float | None = None
    packet_id: int | None = None


def single(
    temperature: float | None,
    humidity: float | None = None,
    battery: float | None = None,
    battery_voltage: float | None = None,
    packet_id: int | None = None,
) -> Decoded:
    """The advertisement of a device with one temperature."""
    return Decoded({MAIN: Channel(temperature, humidity)}, battery, battery_voltage, packet_id)


class Decoder(ABC):
    """Decodes the advertisements of one probe (one MAC)."""

    format: BleFormat

    @abstractmethod
    def decode(self, advertisement: Advertisement) -> Decoded:
        """Decoded values, or BleDecodeError (never another exception)."""


def make_decoder(fmt: BleFormat, bind_key: bytes | None = None) -> Decoder:
    """A decoder for one probe; imports that format's parser library now (and only that one)."""
    if fmt is BleFormat.RUUVI:
        return RuuviDecoder()
    if fmt is BleFormat.ATC:
        return AtcDecoder()
    return LibraryDecoder(fmt, bind_key)


# -- library-backed formats ---------------------------------------------------------------


def _library_parser(fmt: BleFormat, bind_key: bytes | None) -> Any:
    if fmt is BleFormat.BTHOME:
        from bthome_ble import BTHomeBluetoothDeviceData

        return BTHomeBluetoothDeviceData(bindkey=bind_key)
    if fmt is BleFormat.XIAOMI:
        from xiaomi_ble import XiaomiBluetoothDeviceData

        return XiaomiBluetoothDeviceData(bindkey=bind_key)
    if fmt is BleFormat.INKBIRD:
        from inkbird_ble import INKBIRDBluetoothDeviceData

        return INKBIRDBluetoothDeviceData()
    if fmt is BleFormat.GOVEE:
        from govee_ble import GoveeBluetoothDeviceData

        return GoveeBluetoothDeviceData()
    raise ValueError(f"no parser library for BLE format {fmt}")


def _service_info(advertisement: Advertisement) -> Any:
    """The parsers take Home Assistant's BluetoothServiceInfoBleak; build one from our data."""
    from bleak.backends.device import BLEDevice
    from habluetooth import BluetoothServiceInfoBleak

    return BluetoothServiceInfoBleak(
        advertisement.name or "",
        advertisement.address,
        advertisement.rssi,
        dict(advertisement.manufacturer_data),
        dict(advertisement.service_data),
        list(advertisement.service_uuids),
        "local",
        BLEDevice(advertisement.address, advertisement.name, None),
        None,
        False,
        0.0,
        None,
    )


#: Xiaomi's legacy MiBeacon (v2/v3) uses 12-byte keys, MiBeacon v4/v5 and BTHome 16-byte keys.
_KEY_LENGTHS: dict[BleFormat, tuple[int, ...]] = {
    BleFormat.BTHOME: (16,),
    BleFormat.XIAOMI: (12, 16),
}


_TEMPERATURE = re.compile(r"^temperature(?:_probe)?(?:_(\d+))?$")
_HUMIDITY = re.compile(r"^humidity(?:_probe)?(?:_(\d+))?$")
#: A BTHome encryption counter may restart from a low value (battery change, overflow).
_COUNTER_RESTART_BELOW = 100


def channel_name(device_id: str | None, number: str | None) -> str:
    return "/".join(part for part in (device_id, number) if part)


def _channels(values: Mapping[tuple[str, str | None], object]) -> dict[str, Channel]:
    """Measured temperatures by channel, each with the humidity of the same channel; alarm
    thresholds (`temperature_alarm_probe_1`...) are not measurements."""
    temperatures: dict[str, float] = {}
    humidities: dict[str, float] = {}
    for (key, device_id), value in values.items():
        for pattern, into in ((_TEMPERATURE, temperatures), (_HUMIDITY, humidities)):
            found = pattern.match(key)
            number = _number(value)
            if found is not None and number is not None:
                into[channel_name(device_id, found.group(1))] = number
    return {
        name: Channel(temperature, humidities.get(name))
        for name, temperature in sorted(temperatures.items())
    }


class LibraryDecoder(Decoder):
    """Delegates each advertisement to a fresh parser of the format's library (see the module
    docstring); keeps only BTHome's encryption counter between advertisements."""

    def __init__(self, fmt: BleFormat, bind_key: bytes | None) -> None:
        if bind_key is not None and len(bind_key) not in _KEY_LENGTHS.get(fmt, ()):
            raise ValueError(
                f"a {fmt} bind key cannot be {len(bind_key)} bytes long: expected "
                f"{' or '.join(str(n * 2) for n in _KEY_LENGTHS.get(fmt, ()))} hex digits"
                if fmt in _KEY_LENGTHS
                else f"{fmt} advertisements are not encrypted: remove bind_key"
            )
        self.format = fmt
        self._bind_key = bind_key
        _library_parser(fmt, bind_key)  # import the library now, at start-up
        self._counter: int | None = None

    def decode(self, advertisement: Advertisement) -> Decoded:
        info = _service_info(advertisement)
        parser = _library_parser(self.format, self._bind_key)
        try:
            update = parser.update(info)
        except _PARSER_ERRORS as error:
            raise BleDecodeError(
                f"{self.format} advertisement from {advertisement.address} is malformed: "
                f"{type(error).__name__}: {error}"
            ) from None
        self._check_encryption(parser, advertisement)
        measured = [key for key in update.entity_values if key.key != "signal_strength"]
        if not measured and not any(device.model for device in update.devices.values()):
            raise UnknownFormatError(
                f"no {self.format} payload in the advertisement from {advertisement.address} "
                "(unknown, truncated or unsupported)"
            )
        values = {
            (key.key, key.device_id): value.native_value
            for key, value in update.entity_values.items()
        }
        plain = {key: value for (key, _), value in values.items()}
        return Decoded(
            _channels(values),
            battery=_number(plain.get("battery")),
            battery_voltage=_number(plain.get("voltage")),
            packet_id=_int(plain.get("packet_id")),
        )

    def _check_encryption(self, parser: Any, advertisement: Advertisement) -> None:
        if self.format not in (BleFormat.BTHOME, BleFormat.XIAOMI):
            return
        scheme = getattr(parser, "encryption_scheme", None)
        encrypted = getattr(scheme, "value", scheme) not in (None, "none")
        where = f"{self.format} advertisement from {advertisement.address}"
        if encrypted and self._bind_key is None:
            raise DecryptionError(f"{where} is encrypted: set the probe's bind_key")
        if encrypted and not getattr(parser, "bindkey_verified", False):
            raise DecryptionError(
                f"{where} did not decrypt: check the probe's bind_key (the key shown by the "
                "sensor's configuration tool)"
            )
        if not encrypted and self._bind_key is not None:
            raise DecryptionError(
                f"{where} is plaintext although a bind key is configured: ignored (possible "
                "spoofing); remove bind_key if the sensor's encryption was switched off"
            )
        counter = getattr(parser, "encryption_counter", None)
        if encrypted and isinstance(counter, int | float):
            self._check_counter(int(counter), where)

    def _check_counter(self, counter: int, where: str) -> None:
        """BTHome's replay rule: a counter below the last one is refused unless it restarted."""
        last = self._counter
        if last is not None and counter < last and counter >= _COUNTER_RESTART_BELOW:
            raise DecryptionError(
                f"{where} has encryption counter {counter} below the last one ({last}): "
                "ignored as a possible replay"
            )
        self._counter = counter


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# -- hand-decoded formats -------------------------------------------------------------------


class RuuviDecoder(Decoder):
    """RuuviTag data format 5 (RAWv2), manufacturer data of company 0x0499, 24 bytes.

    Offsets per the Ruuvi document cited in the module docstring: format (5), temperature
    int16 × 0.005 °C, humidity uint16 × 0.0025 %, pressure, acceleration ×3, power info (11 bits
    battery mV above 1600, 5 bits TX power), movement counter, measurement sequence, MAC.
    The "not available" values (0x8000 temperature, 0xFFFF humidity, 0x7FF battery) decode to None.
    """

    format = BleFormat.RUUVI

    def decode(self, advertisement: Advertisement) -> Decoded:
        data = advertisement.manufacturer_data.get(RUUVI_COMPANY_ID)
        if data is None:
            raise UnknownFormatError(
                f"no Ruuvi manufacturer data (company 0x0499) from {advertisement.address}"
            )
        if not data or data[0] != 5:
            fmt = data[0] if data else None
            raise UnknownFormatError(
                f"Ruuvi advertisement from {advertisement.address} is data format {fmt}, "
                "only format 5 (RAWv2) is supported: update the tag's firmware"
            )
        if len(data) < 24:
            raise BleDecodeError(
                f"Ruuvi format 5 advertisement from {advertisement.address} is truncated: "
                f"{len(data)} of 24 bytes"
            )
        temp_raw, hum_raw = struct.unpack_from(">hH", data, 1)
        power, _movement, sequence = struct.unpack_from(">HBH", data, 13)
        battery_mv = (power >> 5) + 1600
        battery_v = None if power >> 5 == 0x7FF else battery_mv / 1000
        return single(
            temperature=None if temp_raw == -0x8000 else round(temp_raw * 0.005, 3),
            humidity=None if hum_raw == 0xFFFF else round(hum_raw * 0.0025, 4),
            battery=None if battery_v is None else _coin_cell_percent(battery_v),
            battery_voltage=battery_v,
            packet_id=None if sequence == 0xFFFF else sequence,
        )


def _coin_cell_percent(volts: float) -> float:
    """Estimated charge of a CR2477 lithium coin cell: 2.5 V empty, 3.0 V full (linear).

    Only an estimate for the low-battery warning; the voltage is kept alongside it.
    """
    return round(min(max((volts - 2.5) / 0.5 * 100, 0.0), 100.0), 1)


class AtcDecoder(Decoder):
    """LYWSD03MMC custom firmware on service UUID 0x181A: ATC1441 (13 bytes, big-endian) or
    pvvx custom (15 bytes, little-endian); see the module docstring for the documents."""

    format = BleFormat.ATC

    def decode(self, advertisement: Advertisement) -> Decoded:
        data = advertisement.service_data.get(ENV_SENSING_UUID)
        if data is None:
            raise UnknownFormatError(
                f"no 0x181A service data (ATC/pvvx custom firmware) from {advertisement.address}"
            )
        if len(data) in (15, 16):  # pvvx custom: 16 bytes when the firmware appends flags
            temp, hum, mv, pct, counter = struct.unpack_from("<hHHBB", data, 6)
            return single(temp / 100, hum / 100, float(pct), mv / 1000, counter)
        if len(data) == 13:  # ATC1441
            temp, hum_pct, pct, mv, counter = struct.unpack_from(">hBBHB", data, 6)
            return single(temp / 10, float(hum_pct), float(pct), mv / 1000, counter)
        raise BleDecodeError(
            f"0x181A advertisement from {advertisement.address} has {len(data)} bytes: expected "
            "13 (ATC1441) or 15 (pvvx custom); set the firmware's advertising format to one of "
            "them or to BTHome (format = 'bthome')"
        )
