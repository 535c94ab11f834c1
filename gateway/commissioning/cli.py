"""`coldchain discover modbus|ble|serial`: what is connected, for a technician at the fridge.

A Modbus scan opens the bus itself: for a serial bus the gateway polls, stop the gateway first
or use the web page (which pauses that bus for the scan).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from gateway.commissioning.discovery import (
    FoundDevice,
    bus_client,
    list_serial_ports,
    scan_ble,
    scan_modbus,
)
from gateway.core.errors import ConfigError
from gateway.settings import load_settings
from probes.profiles import RegisterProfile, builtin_profiles
from probes.settings import Parity, RtuBus, TcpBus


def add_discover_parser(commands: Any) -> None:
    discover = commands.add_parser("discover", help="find connected probes (commissioning)")
    kinds = discover.add_subparsers(dest="discover_kind", required=True)

    modbus = kinds.add_parser("modbus", help="scan a Modbus bus for answering devices")
    where = modbus.add_mutually_exclusive_group(required=True)
    where.add_argument("--bus", help="a bus of --config, by name")
    where.add_argument("--host", help="Modbus TCP host (or RS-485-to-Ethernet converter)")
    where.add_argument("--device", help="serial device, e.g. /dev/serial/by-id/usb-...")
    modbus.add_argument("--config", type=Path, help="gateway TOML (its buses and profiles)")
    modbus.add_argument("--port", type=int, default=502, help="Modbus TCP port")
    modbus.add_argument("--baudrate", type=int, default=9600)
    modbus.add_argument("--parity", choices=[item.value for item in Parity], default="N")
    modbus.add_argument("--stopbits", type=int, choices=[1, 2], default=1)
    modbus.add_argument("--first", type=int, default=1, help="first address to try")
    modbus.add_argument("--last", type=int, default=32, help="last address to try (max 247)")
    modbus.add_argument("--timeout", type=float, default=0.2, help="seconds per silent address")

    ble = kinds.add_parser("ble", help="list nearby BLE temperature sensors")
    ble.add_argument("--seconds", type=float, default=5.0, help="how long to listen")
    ble.add_argument("--adapter", default="hci0")

    kinds.add_parser("serial", help="list serial ports by their stable /dev/serial/by-id name")


def run_discover(args: argparse.Namespace) -> int:
    if args.discover_kind == "modbus":
        return asyncio.run(_modbus(args))
    if args.discover_kind == "ble":
        return asyncio.run(_ble(args))
    return _serial()


def _target(args: argparse.Namespace) -> tuple[RtuBus | TcpBus, dict[str, RegisterProfile]]:
    if args.bus is not None:
        if args.config is None:
            raise ConfigError("--bus names a bus of a configuration: add --config FILE")
        settings = load_settings(args.config)
        bus = next((item for item in settings.buses if item.name == args.bus), None)
        if bus is None:
            names = ", ".join(item.name for item in settings.buses) or "(none)"
            raise ConfigError(f"{args.config}: no bus named {args.bus!r}; buses: {names}")
        return bus, dict(settings.all_profiles())
    profiles = dict(
        load_settings(args.config).all_profiles() if args.config else builtin_profiles()
    )
    if args.host is not None:
        return TcpBus(transport="tcp", name="scan", host=args.host, port=args.port), profiles
    return (
        RtuBus(
            transport="rtu",
            name="scan",
            device=args.device,
            baudrate=args.baudrate,
            parity=Parity(args.parity),
            stopbits=args.stopbits,
        ),
        profiles,
    )


async def _modbus(args: argparse.Namespace) -> int:
    if not 1 <= args.first <= args.last <= 247:
        raise ConfigError("addresses run from 1 to 247: give 1 <= --first <= --last <= 247")
    bus, profiles = _target(args)
    addresses = range(args.first, args.last + 1)
    print(f"scanning {len(addresses)} address(es), {args.timeout:g} s each when silent ...")
    found = await scan_modbus(bus_client(bus, args.timeout), addresses, profiles, args.timeout)
    for device in found:
        print(_device_line(device))
    print(f"{len(found)} device(s) answered")
    return 0


def _device_line(device: FoundDevice) -> str:
    if device.best is None:
        return (
            f"device {device.device_id:3d}: answers, but no known profile fits "
            f"({'; '.join(device.errors)}); define its register map under [[profiles]]"
        )
    channels = ", ".join(
        f"ch{seen.channel} {seen.temperature:.1f} °C"
        + (f" {seen.humidity:.0f} %" if seen.humidity is not None else "")
        for seen in device.best.live_channels
        if seen.temperature is not None
    )
    others = [fit.profile for fit in device.fits if fit is not device.best]
    also = f" (also reads as {', '.join(others)})" if others else ""
    return f"device {device.device_id:3d}: {device.best.profile}{also}: {channels}"


async def _ble(args: argparse.Namespace) -> int:
    print(f"listening {args.seconds:g} s on {args.adapter} ...")
    for sighting in await scan_ble(args.seconds, args.adapter):
        decoded = sighting.decoded
        battery = "" if decoded.battery is None else f" battery {decoded.battery:.0f} %"
        for name, channel in decoded.channels.items():
            where = f" channel {name}" if name else ""
            reading = "? °C" if channel.temperature is None else f"{channel.temperature:.1f} °C"
            humidity = "" if channel.humidity is None else f" {channel.humidity:.0f} %"
            print(
                f"{sighting.mac}{where} {sighting.format.value:8s} {reading}{humidity}"
                f"{battery} RSSI {sighting.rssi} dBm {sighting.name or ''}"
            )
    return 0


def _serial() -> int:
    ports = list_serial_ports()
    for port in ports:
        what = " ".join(item for item in (port.description, port.vid_pid or "") if item)
        stable = port.stable or "(no stable name: udev made no /dev/serial/by-id link)"
        print(f"{stable} -> {port.device} {what}")
    if not ports:
        print("no serial ports found: plug in the USB adapter and check `dmesg`")
    return 0
