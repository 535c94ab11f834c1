"""Discovery for commissioning: what answers on a Modbus bus, which BLE sensors are near, which
serial ports are plugged in.

Pure parts first (which register profile fits a device's registers, what an advertisement is),
then the scans that do the I/O: a Modbus scan asks each address in a range for each known
profile's registers with a short timeout (a silent address costs one timeout); a BLE scan
listens for a few seconds; the serial listing reads `/dev/serial/by-id` (names that survive a
reboot and a re-plug) and pyserial's port list.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymodbus.exceptions import ModbusException

from gateway.core.errors import GatewayError
from probes.ble_decode import (
    BTHOME_UUID,
    ENV_SENSING_UUID,
    RUUVI_COMPANY_ID,
    XIAOMI_UUID,
    Advertisement,
    BleDecodeError,
    BleFormat,
    Decoded,
    make_decoder,
)
from probes.modbus import ModbusClient, make_client
from probes.modbus_decode import decode_channel
from probes.profiles import RegisterProfile
from probes.reading import ProbeStatus
from probes.settings import RtuBus, TcpBus

log = logging.getLogger(__name__)

BY_ID = Path("/dev/serial/by-id")


class DiscoveryError(GatewayError):
    """A scan could not run (no adapter, bus cannot be opened); the message says why."""


# -- Modbus: pure -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelSeen:
    channel: int
    status: ProbeStatus
    temperature: float | None
    humidity: float | None


@dataclass(frozen=True, slots=True)
class ProfileFit:
    """A profile whose registers a device answered, decoded as that profile."""

    profile: str
    channels: tuple[ChannelSeen, ...]

    @property
    def live_channels(self) -> list[ChannelSeen]:
        return [seen for seen in self.channels if seen.status is ProbeStatus.OK]


def fit_profile(profile: RegisterProfile, registers: Sequence[int]) -> ProfileFit | None:
    """The device's registers (the profile's whole block) decoded as this profile, or None when
    they are not plausible for it: a value outside the sensor's physical range, or no channel
    with a probe plugged in."""
    if len(registers) != profile.register_count:
        return None
    seen = []
    for channel in range(profile.channels):
        value = decode_channel(profile, channel, profile.first_address, registers)
        if value.status is ProbeStatus.OUT_OF_RANGE:
            return None
        seen.append(ChannelSeen(channel, value.status, value.temperature, value.humidity))
    fit = ProfileFit(profile.name, tuple(seen))
    return fit if fit.live_channels else None


def best_fit(
    fits: Iterable[ProfileFit], profiles: Mapping[str, RegisterProfile]
) -> ProfileFit | None:
    """Of the profiles that fit, the most specific: the one that read the most registers (a
    logger answers a one-register read too, a one-register transmitter refuses a long one)."""
    ranked = sorted(
        fits,
        key=lambda fit: (
            -profiles[fit.profile].register_count,
            profiles[fit.profile].humidity is None,
            fit.profile,
        ),
    )
    return ranked[0] if ranked else None


@dataclass(frozen=True, slots=True)
class FoundDevice:
    """An address that answered, the profiles that fit, and the best of them (None: the device
    answered but no known profile fits; define its register map under [[profiles]])."""

    device_id: int
    fits: tuple[ProfileFit, ...]
    best: ProfileFit | None
    errors: tuple[str, ...] = ()


# -- Modbus: the scan -------------------------------------------------------------------------


class _SilentError(Exception):
    """No reply at all: nobody is at this address."""


async def _read_block(
    client: ModbusClient, profile: RegisterProfile, device_id: int, guard_s: float
) -> list[int]:
    """The profile's whole register block; raises _SilentError on a timeout, ValueError on a
    reply that refuses or does not fit. `guard_s` bounds the request even if the client's own
    timeout never fires (the link is then closed and opened again for the next request)."""
    read = (
        client.read_input_registers
        if profile.register_type == "input"
        else client.read_holding_registers
    )
    if not client.connected and not await client.connect():
        raise DiscoveryError(
            "cannot open the Modbus link: check the TCP address and port, or that the serial "
            "device exists and no other program holds it"
        )
    try:
        async with asyncio.timeout(guard_s):
            response = await read(
                profile.first_address, count=profile.register_count, device_id=device_id
            )
    except TimeoutError:
        client.close()
        raise _SilentError from None
    except ModbusException as error:
        if "No response" in str(error) or "timeout" in str(error).lower():
            raise _SilentError from None
        raise ValueError(str(error)) from None
    if response.isError():
        raise ValueError(f"exception response {getattr(response, 'exception_code', '?')}")
    registers = list(getattr(response, "registers", []))
    if len(registers) != profile.register_count:
        raise ValueError(f"{len(registers)} of {profile.register_count} registers")
    return registers


async def probe_address(
    client: ModbusClient, device_id: int, profiles: Mapping[str, RegisterProfile], guard_s: float
) -> FoundDevice | None:
    """Ask one address for each profile's registers; None when it never answers."""
    fits: list[ProfileFit] = []
    errors: list[str] = []
    answered = False
    for profile in sorted(profiles.values(), key=lambda item: -item.register_count):
        try:
            registers = await _read_block(client, profile, device_id, guard_s)
        except _SilentError:
            if not answered:
                return None
            errors.append(f"{profile.name}: no reply")
            continue
        except ValueError as refusal:
            answered = True
            errors.append(f"{profile.name}: {refusal}")
            continue
        answered = True
        fit = fit_profile(profile, registers)
        if fit is None:
            errors.append(f"{profile.name}: values not plausible for it")
        else:
            fits.append(fit)
    return FoundDevice(device_id, tuple(fits), best_fit(fits, profiles), tuple(errors))


async def scan_modbus(
    client: ModbusClient,
    addresses: Iterable[int],
    profiles: Mapping[str, RegisterProfile],
    timeout_s: float,
) -> list[FoundDevice]:
    """Every address in `addresses` that answers; `timeout_s` (the client's) bounds each silent
    one."""
    found = []
    guard_s = 2 * timeout_s + 0.5
    try:
        for device_id in addresses:
            device = await probe_address(client, device_id, profiles, guard_s)
            if device is not None:
                log.info("discovery: device %d answers (%s)", device_id, _best_name(device))
                found.append(device)
    finally:
        client.close()
    return found


def _best_name(device: FoundDevice) -> str:
    return device.best.profile if device.best is not None else "no known profile"


# -- BLE --------------------------------------------------------------------------------------


GOVEE_COMPANY_ID = 0xEC88

# What in an advertisement suggests each format (the same marks the driver's passive-scan
# patterns match); only hinted formats are tried, so a phone is never run through six parsers.
FORMAT_HINTS: dict[BleFormat, Callable[[Advertisement], bool]] = {
    BleFormat.BTHOME: lambda ad: BTHOME_UUID in ad.service_data,
    BleFormat.XIAOMI: lambda ad: XIAOMI_UUID in ad.service_data,
    BleFormat.ATC: lambda ad: ENV_SENSING_UUID in ad.service_data,
    BleFormat.RUUVI: lambda ad: RUUVI_COMPANY_ID in ad.manufacturer_data,
    BleFormat.GOVEE: lambda ad: (
        GOVEE_COMPANY_ID in ad.manufacturer_data or (ad.name or "").startswith(("GVH", "Govee"))
    ),
    BleFormat.INKBIRD: lambda ad: (ad.name or "") in ("sps", "tps"),
}


@dataclass(frozen=True, slots=True)
class BleSighting:
    """One nearby sensor: its MAC, the format its advertisement decodes as, its values."""

    mac: str
    name: str | None
    format: BleFormat
    rssi: int
    decoded: Decoded


def identify_advertisement(advertisement: Advertisement) -> BleSighting | None:
    """The first format (by the advertisement's own hints, then the rest) that decodes it; None
    for advertisements that are not temperature sensors (phones, headsets)."""
    hinted = [fmt for fmt, hint in FORMAT_HINTS.items() if hint(advertisement)]
    for fmt in hinted:
        try:
            decoded = make_decoder(fmt).decode(advertisement)
        except BleDecodeError:
            continue
        if any(channel.temperature is not None for channel in decoded.channels.values()):
            return BleSighting(
                advertisement.address, advertisement.name, fmt, advertisement.rssi, decoded
            )
    return None


async def scan_ble(seconds: float, adapter: str = "hci0") -> list[BleSighting]:
    """Listen for `seconds` and list the sensors heard, strongest first."""
    from probes.ble_scanner import (
        AdapterFailedError,
        AdapterMissingError,
        advertisement_from_bleak,
        bleak_scanner,
    )
    from probes.settings import BleSettings

    heard: dict[str, Advertisement] = {}

    def on_detection(device: Any, data: Any) -> None:
        advertisement = advertisement_from_bleak(device, data)
        heard[advertisement.address] = advertisement

    settings = BleSettings(adapter=adapter, scanning_mode="active")
    try:
        scanner = await bleak_scanner(on_detection, settings, list(BleFormat))
        await scanner.start()
        try:
            await asyncio.sleep(seconds)
        finally:
            await scanner.stop()
    except AdapterMissingError as error:
        raise DiscoveryError(
            f"no Bluetooth adapter {adapter}: {error}; fix: plug in or enable the adapter "
            "(bluetoothctl list), and check that bluez runs"
        ) from None
    except AdapterFailedError as error:
        raise DiscoveryError(f"Bluetooth adapter {adapter} failed: {error}") from None
    sightings = [s for ad in heard.values() if (s := identify_advertisement(ad)) is not None]
    return sorted(sightings, key=lambda sighting: -sighting.rssi)


# -- serial ports -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SerialPort:
    """A serial port: the stable path to configure, the device it points at now, what it is."""

    stable: str | None
    device: str
    description: str = ""
    serial_number: str | None = None
    vid_pid: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def configure_as(self) -> str:
        return self.stable or self.device


def by_id_links(folder: Path = BY_ID) -> dict[str, str]:
    """Real device -> its stable /dev/serial/by-id path (none when udev made no links)."""
    links: dict[str, str] = {}
    if not folder.is_dir():
        return links
    for entry in sorted(folder.iterdir()):
        links[os.path.realpath(entry)] = str(entry)
    return links


def list_serial_ports(
    folder: Path = BY_ID, ports_of_pyserial: Callable[[], Iterable[Any]] | None = None
) -> list[SerialPort]:
    """pyserial's ports, each with its stable path when udev gave it one; stable links whose
    device pyserial does not list are kept too (a pty pair, an unusual driver)."""
    if ports_of_pyserial is None:
        from serial.tools.list_ports import comports

        ports_of_pyserial = comports
    links = by_id_links(folder)
    ports: list[SerialPort] = []
    for info in ports_of_pyserial():
        device = str(info.device)
        vid_pid = None if info.vid is None else f"{info.vid:04x}:{info.pid:04x}"
        ports.append(
            SerialPort(
                links.pop(os.path.realpath(device), None),
                device,
                str(info.description or ""),
                info.serial_number,
                vid_pid,
            )
        )
    ports += [SerialPort(stable, device) for device, stable in links.items()]
    return sorted(ports, key=lambda port: (port.stable is None, port.configure_as))


def bus_client(bus: RtuBus | TcpBus, timeout_s: float) -> ModbusClient:
    """A client for a scan: the bus's own link settings with a short timeout."""
    return make_client(bus.model_copy(update={"timeout_s": timeout_s, "retries": 0}))
