"""BLE advertisement replay: scenarios encoded into the real formats, as bleak's own objects.

Each simulated sensor turns its scenario's sample into the bytes the real device advertises
(BTHome v2 plain or AES-CCM encrypted, Xiaomi MiBeacon v3 for the LYWSD03MMC, the Inkbird
IBS-TH 9-byte manufacturer record, Govee H5075, RuuviTag data format 5) and hands them out as
bleak `BLEDevice` + `AdvertisementData`, the pair a detection callback receives. A sensor
repeats each packet `repeats` times, as radios do on three advertising channels, so the
duplicate drop is exercised. A silent sample (power cut) advertises nothing; a disconnected
probe is encoded where the format can say so (Ruuvi's 0x8000), else not advertised.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firmware_sim.scenarios import Sample, Scenario
from gateway.core.clock import Clock
from gateway.core.compartments import CompartmentKind
from probes.ble_decode import (
    BTHOME_UUID,
    ENV_SENSING_UUID,
    RUUVI_COMPANY_ID,
    XIAOMI_UUID,
    BleFormat,
)

GOVEE_COMPANY_ID = 0xEC88
INKBIRD_SERVICE_UUID = "0000fff0-0000-1000-8000-00805f9b34fb"
GOVEE_SERVICE_UUID = "0000ec88-0000-1000-8000-00805f9b34fb"


@dataclass(frozen=True, slots=True)
class Payload:
    name: str | None
    manufacturer_data: dict[int, bytes]
    service_data: dict[str, bytes]
    service_uuids: list[str]


def _mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def bthome(mac: str, sample: Sample, packet: int, battery: int, key: bytes | None) -> Payload:
    """BTHome v2 (bthome.io/format): packet id 0x00, battery 0x01, temperature 0x02 (0.01 °C),
    humidity 0x03 (0.01 %); with a key, AES-CCM per the BTHome encryption document."""
    assert sample.temperature is not None
    data = struct.pack(
        "<BBBBBh", 0x00, packet & 0xFF, 0x01, battery, 0x02, round(sample.temperature * 100)
    )
    if sample.humidity is not None:
        data += struct.pack("<BH", 0x03, round(sample.humidity * 100))
    if key is None:
        body = b"\x40" + data
    else:
        from cryptography.hazmat.primitives.ciphers.aead import AESCCM

        info = b"\x41"
        counter = struct.pack("<I", packet)
        nonce = _mac_bytes(mac) + b"\xd2\xfc" + info + counter
        sealed = AESCCM(key, tag_length=4).encrypt(nonce, data, None)
        body = info + sealed[:-4] + counter + sealed[-4:]
    return Payload(None, {}, {BTHOME_UUID: body}, [BTHOME_UUID])


def xiaomi(mac: str, sample: Sample, packet: int) -> Payload:
    """MiBeacon v3 unencrypted, product 0x055B (LYWSD03MMC), object 0x100D temperature and
    humidity (0.1 units), the layout of xiaomi-ble's recorded LYWSD03MMC advertisement."""
    assert sample.temperature is not None
    humidity = sample.humidity if sample.humidity is not None else 0.0
    body = (
        b"\x50\x30\x5b\x05"
        + bytes([packet & 0xFF])
        + _mac_bytes(mac)[::-1]
        + b"\x0d\x10\x04"
        + struct.pack("<hH", round(sample.temperature * 10), round(humidity * 10))
    )
    return Payload(None, {}, {XIAOMI_UUID: body}, [XIAOMI_UUID])


def atc_pvvx(mac: str, sample: Sample, packet: int, battery: int) -> Payload:
    assert sample.temperature is not None
    humidity = sample.humidity if sample.humidity is not None else 0.0
    body = _mac_bytes(mac)[::-1] + struct.pack(
        "<hHHBBB",
        round(sample.temperature * 100),
        round(humidity * 100),
        2950,
        battery,
        packet & 0xFF,
        0,
    )
    return Payload("ATC_" + mac.replace(":", "")[-6:], {}, {ENV_SENSING_UUID: body}, [])


def inkbird(sample: Sample, battery: int) -> Payload:
    """IBS-TH: the temperature (0.01 °C, signed) is the 'company id'; then humidity (0.01 %),
    three bytes the parser ignores, the battery percent and a constant 6."""
    assert sample.temperature is not None
    humidity = sample.humidity if sample.humidity is not None else 0.0
    company = round(sample.temperature * 100) & 0xFFFF
    data = struct.pack("<H", round(humidity * 100)) + b"\x00\x00\x00" + bytes([battery, 6])
    return Payload("sps", {company: data}, {}, [INKBIRD_SERVICE_UUID])


def govee(mac: str, sample: Sample, battery: int) -> Payload:
    """H5075: three bytes holding temperature × 10000 + humidity × 10 (bit 23 = negative)."""
    assert sample.temperature is not None
    humidity = sample.humidity if sample.humidity is not None else 0.0
    packed = round(abs(sample.temperature) * 10) * 1000 + round(humidity * 10)
    if sample.temperature < 0:
        packed |= 0x800000
    data = b"\x00" + packed.to_bytes(3, "big") + bytes([battery, 0])
    name = "GVH5075_" + mac.replace(":", "")[-4:]
    return Payload(name, {GOVEE_COMPANY_ID: data}, {}, [GOVEE_SERVICE_UUID])


def ruuvi(mac: str, sample: Sample, packet: int, battery_mv: int = 2950) -> Payload:
    """Data format 5 per docs.ruuvi.com; a disconnected sensor sends 0x8000."""
    temperature = -0x8000 if sample.temperature is None else round(sample.temperature / 0.005)
    humidity = 0xFFFF if sample.humidity is None else round(sample.humidity / 0.0025)
    power = ((battery_mv - 1600) << 5) | ((4 + 40) // 2)
    data = struct.pack(
        ">BhHHhhhHBH", 5, temperature, humidity, 50000, 0, 0, 1000, power, 0, packet & 0xFFFF
    ) + _mac_bytes(mac)
    return Payload(None, {RUUVI_COMPANY_ID: data}, {}, [])


@dataclass(slots=True)
class SimulatedBleSensor:
    mac: str
    format: BleFormat
    scenario: Scenario
    kind: CompartmentKind = CompartmentKind.REFRIGERATED
    interval_s: float = 10.0
    repeats: int = 3
    battery: int = 90
    bind_key: bytes | None = None
    rssi: int = -70
    packet: int = 0

    def payload(self, elapsed_s: float) -> Payload | None:
        """The advertisement at this instant, or None when the sensor is silent."""
        sample = self.scenario.sample(elapsed_s, self.kind)
        if sample.silent:
            return None
        self.packet += 1
        if self.format is BleFormat.RUUVI:
            return ruuvi(self.mac, sample, self.packet)
        if sample.temperature is None:
            return None
        encoders: dict[BleFormat, Callable[[], Payload]] = {
            BleFormat.BTHOME: lambda: bthome(
                self.mac, sample, self.packet, self.battery, self.bind_key
            ),
            BleFormat.XIAOMI: lambda: xiaomi(self.mac, sample, self.packet),
            BleFormat.ATC: lambda: atc_pvvx(self.mac, sample, self.packet, self.battery),
            BleFormat.INKBIRD: lambda: inkbird(sample, self.battery),
            BleFormat.GOVEE: lambda: govee(self.mac, sample, self.battery),
        }
        return encoders[self.format]()

    def bleak_objects(self, payload: Payload) -> tuple[Any, Any]:
        """bleak's own BLEDevice and AdvertisementData for this payload."""
        from bleak.backends.device import BLEDevice
        from bleak.backends.scanner import AdvertisementData

        device = BLEDevice(self.mac, payload.name, None)
        data = AdvertisementData(
            local_name=payload.name,
            manufacturer_data=payload.manufacturer_data,
            service_data=payload.service_data,
            service_uuids=payload.service_uuids,
            tx_power=None,
            rssi=self.rssi,
            platform_data=(),
        )
        return device, data


Callback = Callable[[Any, Any], None]


async def replay(sensors: list[SimulatedBleSensor], callback: Callback, clock: Clock) -> None:
    """Advertise every sensor at its interval (spread over the first interval) until cancelled."""
    start = clock.monotonic()
    due = {
        index: start + sensor.interval_s * index / len(sensors)
        for index, sensor in enumerate(sensors)
    }
    while True:
        index = min(due, key=due.__getitem__)
        await clock.sleep(due[index] - clock.monotonic())
        sensor = sensors[index]
        payload = sensor.payload(clock.monotonic() - start)
        if payload is not None:
            device, data = sensor.bleak_objects(payload)
            for _ in range(sensor.repeats):
                callback(device, data)
        due[index] += sensor.interval_s
