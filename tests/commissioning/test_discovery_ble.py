"""BLE discovery through bleak's real BlueZ backend against python-dbusmock's bluez5 template
(a private system D-Bus, no Bluetooth hardware), and without any BlueZ at all."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.ble_replay import SimulatedBleSensor
from firmware_sim.scenarios import build_scenario
from gateway.commissioning.discovery import DiscoveryError, scan_ble
from probes.ble_decode import BleFormat

dbus = pytest.importorskip("dbus")
dbusmock = pytest.importorskip("dbusmock")
if shutil.which("dbus-daemon") is None:
    pytest.skip("dbus-daemon is not installed (apt-get install -y dbus)", allow_module_level=True)

from tests.sources.test_ble_dbusmock import BLUEZ_MOCK, _add_device  # noqa: E402

MAC = "A4:C1:38:00:00:77"


@pytest.fixture
def bluez(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A private system bus with the bluez5 mock and adapter hci0; the variable that points
    at it is put back afterwards by monkeypatch."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "")
    bus = dbusmock.PrivateDBus(dbusmock.BusType.SYSTEM)
    bus.start()
    try:
        mock = dbusmock.SpawnedMock.spawn_with_template("bluez5")
        try:
            mock.obj.AddAdapter("hci0", "gateway", dbus_interface=BLUEZ_MOCK)
            yield mock
        finally:
            mock.terminate()
    finally:
        bus.stop()


def discovering() -> bool:
    """Whether the mock adapter hci0 is scanning (the scan has started its discovery)."""
    bus = dbus.bus.BusConnection(os.environ["DBUS_SYSTEM_BUS_ADDRESS"])
    try:
        adapter = bus.get_object("org.bluez", "/org/bluez/hci0")
        properties = dbus.Interface(adapter, dbus.PROPERTIES_IFACE)
        return bool(properties.Get("org.bluez.Adapter1", "Discovering"))
    finally:
        bus.close()


@pytest.mark.asyncio
async def test_a_nearby_sensor_is_listed_with_format_reading_and_signal(bluez: Any) -> None:
    scanning = asyncio.create_task(scan_ble(1.5))
    async with asyncio.timeout(10):
        while not await asyncio.to_thread(discovering):
            await asyncio.sleep(0.02)
    sensor = SimulatedBleSensor(mac=MAC, format=BleFormat.BTHOME, scenario=build_scenario("steady"))
    _add_device(bluez, sensor)
    [sighting] = await scanning
    assert (sighting.mac, sighting.format, sighting.rssi) == (MAC, BleFormat.BTHOME, -61)
    (channel,) = sighting.decoded.channels.values()
    assert channel.temperature is not None
    assert 1.0 < channel.temperature < 9.0


@pytest.mark.asyncio
async def test_no_bluez_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-such-socket")
    with pytest.raises(DiscoveryError, match="no Bluetooth adapter hci0"):
        await scan_ble(0.2)
