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

The parsers are stateful (the BTHome and Xiaomi ones keep the encryption counter for replay
protection), so a `Decoder` is built once per probe and fed that probe's advertisements.
"""

from __future__ import annotations

import math
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


@dataclass(frozen=True, slots=True)
class Decoded:
    """Values of one advertisement; `battery` in percent, None where the format has none."""

    temperature: float | None
    humidity: float | None = None
    battery: float | None = None
    battery_voltage: float | None = None
    packet_id: int | None = None


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


class LibraryDecoder(Decoder):
    """Delegates to the format's parser library and keeps its state between advertisements."""

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
        self._parser = _library_parser(fmt, bind_key)

    def decode(self, advertisement: Advertisement) -> Decoded:
        info = _service_info(advertisement)
        try:
            update = self._parser.update(info)
        except _PARSER_ERRORS as error:
            raise BleDecodeError(
                f"{self.format} advertisement from {advertisement.address} is malformed: "
                f"{type(error).__name__}: {error}"
            ) from None
        values = {key.key: value.native_value for key, value in update.entity_values.items()}
        self._check_encryption(advertisement)
        temperature = _number(values.get("temperature"))
        if temperature is None:
            raise UnknownFormatError(
                f"no {self.format} temperature in the advertisement from "
                f"{advertisement.address} (unknown, truncated or unsupported payload)"
            )
        return Decoded(
            temperature=temperature,
            humidity=_number(values.get("humidity")),
            battery=_number(values.get("battery")),
            battery_voltage=_number(values.get("voltage")),
            packet_id=_int(values.get("packet_id")),
        )

    def _check_encryption(self, advertisement: Advertisement) -> None:
        if self.format not in (BleFormat.BTHOME, BleFormat.XIAOMI):
            return
        scheme = getattr(self._parser, "encryption_scheme", None)
        encrypted = getattr(scheme, "value", scheme) not in (None, "none")
        where = f"{self.format} advertisement from {advertisement.address}"
        if encrypted and self._bind_key is None:
            raise DecryptionError(f"{where} is encrypted: set the probe's bind_key")
        if encrypted and not getattr(self._parser, "bindkey_verified", False):
            raise DecryptionError(
                f"{where} did not decrypt: check the probe's bind_key (the key shown by the "
                "sensor's configuration tool)"
            )
        if not encrypted and self._bind_key is not None:
            raise DecryptionError(
                f"{where} is plaintext although a bind key is configured: ignored (possible "
                "spoofing); remove bind_key if the sensor's encryption was switched off"
            )


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
        return Decoded(
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
            return Decoded(temp / 100, hum / 100, float(pct), mv / 1000, counter)
        if len(data) == 13:  # ATC1441
            temp, hum_pct, pct, mv, counter = struct.unpack_from(">hBBHB", data, 6)
            return Decoded(temp / 10, float(hum_pct), float(pct), mv / 1000, counter)
        raise BleDecodeError(
            f"0x181A advertisement from {advertisement.address} has {len(data)} bytes: expected "
            "13 (ATC1441) or 15 (pvvx custom); set the firmware's advertising format to one of "
            "them or to BTHome (format = 'bthome')"
        )
