"""Discovery against simulated devices on Modbus TCP and on a pty (RTU), BLE advertisements
decoded from the simulator's payloads, and serial ports listed by stable name."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from firmware_sim.ble_replay import SimulatedBleSensor
from firmware_sim.modbus_server import RtuSimServer, TcpSimServer
from firmware_sim.pty_pair import pty_pair
from firmware_sim.scenarios import build_scenario
from gateway.commissioning.discovery import (
    FoundDevice,
    bus_client,
    fit_profile,
    identify_advertisement,
    list_serial_ports,
    scan_modbus,
)
from probes.ble_decode import Advertisement, BleFormat
from probes.profiles import builtin_profiles
from probes.settings import RtuBus, TcpBus
from tests.commissioning.support import simulator

PROFILES = builtin_profiles()


def check_found(found: list[FoundDevice]) -> None:
    assert [device.device_id for device in found] == [1, 2, 5]
    logger, pt100, th = found
    assert logger.best is not None
    assert logger.best.profile == "logger-8ch"
    assert [seen.channel for seen in logger.best.live_channels] == [0, 1, 2]
    assert all(2.0 <= (seen.temperature or 0) <= 8.0 for seen in logger.best.live_channels)
    assert pt100.best is not None
    assert pt100.best.profile == "pt100"
    assert (pt100.best.live_channels[0].temperature or 0) < -15
    assert th.best is not None
    assert th.best.profile == "rs485-th"
    assert th.best.live_channels[0].humidity is not None


@pytest.mark.asyncio
async def test_scan_over_tcp_finds_each_device_and_its_profile() -> None:
    async with TcpSimServer(simulator(), "127.0.0.1", 0) as server:
        bus = TcpBus(name="sim", transport="tcp", host="127.0.0.1", port=server.port)
        found = await scan_modbus(bus_client(bus, 0.2), range(1, 7), PROFILES, 0.2)
    check_found(found)


@pytest.mark.asyncio
async def test_scan_over_rtu_on_a_pty(tmp_path: Path) -> None:
    async with pty_pair(tmp_path) as pair, RtuSimServer(simulator(), str(pair.a)):
        bus = RtuBus(name="rs485", transport="rtu", device=str(pair.b))
        found = await scan_modbus(bus_client(bus, 0.3), range(1, 7), PROFILES, 0.3)
    check_found(found)


def test_a_profile_fits_only_plausible_registers() -> None:
    logger = PROFILES["logger-8ch"]
    assert fit_profile(logger, [45, 0x8000, 0x8000, 0x8000, 0x8000, 0x8000, 0x8000, 0x8000])
    assert fit_profile(logger, [0x8000] * 8) is None  # no probe plugged in
    assert fit_profile(logger, [45, 30000, 0, 0, 0, 0, 0, 0]) is None  # 3000 °C
    assert fit_profile(logger, [45]) is None  # short block


@pytest.mark.parametrize(
    "fmt", [BleFormat.BTHOME, BleFormat.ATC, BleFormat.RUUVI, BleFormat.XIAOMI]
)
def test_ble_advertisements_are_identified_by_format(fmt: BleFormat) -> None:
    sensor = SimulatedBleSensor("A4:C1:38:00:00:01", fmt, build_scenario("steady"), rssi=-61)
    payload = sensor.payload(0.0)
    assert payload is not None
    advertisement = Advertisement(
        address=sensor.mac,
        name=payload.name,
        manufacturer_data=payload.manufacturer_data,
        service_data=payload.service_data,
        service_uuids=tuple(payload.service_uuids),
        rssi=sensor.rssi,
    )
    sighting = identify_advertisement(advertisement)
    assert sighting is not None
    assert (sighting.mac, sighting.format, sighting.rssi) == (sensor.mac, fmt, -61)
    (channel,) = sighting.decoded.channels.values()
    assert channel.temperature is not None
    assert 1.0 < channel.temperature < 9.0


def test_an_advertisement_that_is_no_sensor_is_left_out() -> None:
    phone = Advertisement(
        address="11:22:33:44:55:66", name="phone", manufacturer_data={76: b"\x10\x05"}
    )
    assert identify_advertisement(phone) is None


def test_serial_ports_by_stable_name(tmp_path: Path) -> None:
    devices = tmp_path / "dev"
    devices.mkdir()
    (devices / "ttyUSB0").touch()
    (devices / "ttyACM0").touch()
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    stable = by_id / "usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"
    os.symlink(devices / "ttyUSB0", stable)
    orphan = by_id / "usb-pty-logger"
    os.symlink(devices / "ttyACM0", orphan)
    listed = [
        SimpleNamespace(
            device=str(devices / "ttyUSB0"),
            description="FT232R USB UART",
            serial_number="A50285BI",
            vid=0x0403,
            pid=0x6001,
        ),
        SimpleNamespace(
            device="/dev/ttyS0", description="n/a", serial_number=None, vid=None, pid=None
        ),
    ]
    ports = list_serial_ports(by_id, lambda: listed)
    assert [(port.configure_as, port.vid_pid) for port in ports] == [
        (str(stable), "0403:6001"),
        (str(orphan), None),
        ("/dev/ttyS0", None),
    ]
    assert ports[0].device == str(devices / "ttyUSB0")
    assert list_serial_ports(tmp_path / "missing", list) == []


class HangingClient:
    """A client whose requests never complete (its own timeout never fires)."""

    connected = True
    closed = 0

    async def connect(self) -> bool:
        return True

    def close(self) -> None:
        self.closed += 1

    async def read_input_registers(self, address: int, **kwargs: object) -> object:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    read_holding_registers = read_input_registers


@pytest.mark.asyncio
async def test_a_request_that_never_completes_counts_as_silence() -> None:
    client = HangingClient()
    found = await scan_modbus(client, [1, 2], PROFILES, 0.01)  # type: ignore[arg-type]
    assert found == []
    assert client.closed == 3  # after each hung request, and at the end of the scan
