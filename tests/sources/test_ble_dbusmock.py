"""The BLE driver through bleak's real BlueZ backend, against python-dbusmock's `bluez5`
template on a private system D-Bus (no Bluetooth hardware or kernel support needed).

The template's `AddDevice` types ManufacturerData/ServiceData as arrays where BlueZ sends
dicts, and bleak drops such advertisements; so devices are added here with `AddObject` and
correctly typed dicts, then announced with `InterfacesAdded`, as TESTING_FACTS.md describes.
Skipped when dbus-daemon or python-dbusmock is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from firmware_sim.ble_replay import SimulatedBleSensor
from firmware_sim.scenarios import build_scenario
from gateway.core.clock import SystemClock
from probes.ble import AdapterState, BleDriver
from probes.ble_decode import BleFormat
from probes.reading import ProbeStatus
from probes.settings import BleProbe, BleSettings
from tests.sources.conftest import Collected, Start, eventually

dbus = pytest.importorskip("dbus")
dbusmock = pytest.importorskip("dbusmock")
if shutil.which("dbus-daemon") is None:
    pytest.skip("dbus-daemon is not installed (apt-get install -y dbus)", allow_module_level=True)

MOCK = "org.freedesktop.DBus.Mock"
BLUEZ_MOCK = "org.bluez.Mock"
DEVICE = "org.bluez.Device1"
MAC = "A4:C1:38:00:00:42"


@pytest.fixture(params=[True, False], ids=["monitor-api", "no-monitor-api"])
def bluez(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A private system bus with the bluez5 mock and one adapter, hci0; with and without
    BlueZ's advertisement monitor API (what passive scanning needs)."""
    variable = "DBUS_SYSTEM_BUS_ADDRESS"
    saved = os.environ.get(variable)
    bus = dbusmock.PrivateDBus(dbusmock.BusType.SYSTEM)
    bus.start()
    try:
        parameters = dbus.Dictionary(
            {"enable_monitor_api": dbus.Boolean(request.param)}, signature="sv"
        )
        mock = dbusmock.SpawnedMock.spawn_with_template("bluez5", parameters)
        mock.monitor_api = request.param
        try:
            mock.obj.AddAdapter("hci0", "gateway", dbus_interface=BLUEZ_MOCK)
            yield mock
        finally:
            mock.terminate()
    finally:
        bus.stop()
        if saved is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = saved


def _properties(sensor: SimulatedBleSensor, elapsed_s: float) -> dict[str, Any]:
    payload = sensor.payload(elapsed_s)
    assert payload is not None
    return {
        "ServiceData": dbus.Dictionary(
            {uuid: dbus.Array(data, signature="y") for uuid, data in payload.service_data.items()},
            signature="sv",
        ),
        "ManufacturerData": dbus.Dictionary(
            {
                dbus.UInt16(company): dbus.Array(data, signature="y")
                for company, data in payload.manufacturer_data.items()
            },
            signature="qv",
        ),
        "RSSI": dbus.Int16(-61),
    }


def _add_device(mock: Any, sensor: SimulatedBleSensor) -> str:
    path = "/org/bluez/hci0/dev_" + sensor.mac.replace(":", "_")
    properties = {
        "Address": dbus.String(sensor.mac),
        "AddressType": dbus.String("public"),
        "Alias": dbus.String(sensor.mac.replace(":", "-")),
        "Adapter": dbus.ObjectPath("/org/bluez/hci0"),
        "Paired": dbus.Boolean(False),
        "Connected": dbus.Boolean(False),
        "Trusted": dbus.Boolean(False),
        "Blocked": dbus.Boolean(False),
        "ServicesResolved": dbus.Boolean(False),
        "UUIDs": dbus.Array([], signature="s"),
        **_properties(sensor, 0.0),
    }
    mock.obj.AddObject(
        path, DEVICE, properties, dbus.Array([], signature="(ssss)"), dbus_interface=MOCK
    )
    mock.obj.EmitSignal(
        "org.freedesktop.DBus.ObjectManager",
        "InterfacesAdded",
        "oa{sa{sv}}",
        [dbus.ObjectPath(path), dbus.Dictionary({DEVICE: properties}, signature="sa{sv}")],
        dbus_interface=MOCK,
    )
    return path


@pytest.mark.asyncio
async def test_bleak_bluez_backend_against_dbusmock(
    bluez: Any, background: Start, collected: Collected
) -> None:
    probe = BleProbe(code="P1", mac=MAC, format=BleFormat.BTHOME, compartment="F/m")
    settings = BleSettings(scanning_mode="auto", backoff_initial_s=0.1, backoff_max_s=0.2)
    driver = BleDriver([probe], settings, collected.reading, SystemClock())
    background(driver.run())
    await eventually(lambda: driver.health.state is AdapterState.SCANNING)
    assert driver.health.mode == ("passive" if bluez.monitor_api else "active")
    sensor = SimulatedBleSensor(mac=MAC, format=BleFormat.BTHOME, scenario=build_scenario("steady"))
    path = _add_device(bluez, sensor)
    await eventually(lambda: len(collected.of("P1")) == 1)
    bus = dbus.bus.BusConnection(os.environ["DBUS_SYSTEM_BUS_ADDRESS"])
    try:
        device = bus.get_object("org.bluez", path)
        device.UpdateProperties(DEVICE, _properties(sensor, 60.0), dbus_interface=MOCK)
    finally:
        bus.close()
    await eventually(lambda: len(collected.of("P1")) == 2)
    first, second = collected.of("P1")
    assert first.status is second.status is ProbeStatus.OK
    assert driver.health.probes["P1"].rssi == -61
    assert driver.health.probes["P1"].battery == 90.0


@pytest.mark.asyncio
async def test_no_bluez_at_all_disables_ble_and_runs_on(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, background: Start, collected: Collected
) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-such-socket")
    probe = BleProbe(code="P1", mac=MAC, format=BleFormat.RUUVI, compartment="F/m")
    settings = BleSettings(backoff_initial_s=0.05, backoff_max_s=0.05)
    driver = BleDriver([probe], settings, collected.reading, SystemClock())
    task = background(driver.run())
    await eventually(lambda: driver.health.state is AdapterState.NO_ADAPTER)
    assert (driver.health.message or "").startswith("no Bluetooth adapter: BLE probes disabled")
    assert [r.status for r in collected.readings] == [ProbeStatus.BUS_ERROR]
    await eventually(lambda: not task.done(), 0.3)
    assert not task.done()


@pytest.mark.asyncio
async def test_adapter_absent_then_plugged_then_dead_then_back(
    background: Start, collected: Collected
) -> None:
    bus = dbusmock.PrivateDBus(dbusmock.BusType.SYSTEM)
    saved = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    bus.start()
    mock = None
    try:
        mock = dbusmock.SpawnedMock.spawn_with_template("bluez5")
        probe = BleProbe(code="P1", mac=MAC, format=BleFormat.RUUVI, compartment="F/m")
        settings = BleSettings(adapter_silence_s=0.3, backoff_initial_s=0.05, backoff_max_s=0.05)
        driver = BleDriver([probe], settings, collected.reading, SystemClock())
        background(driver.run())
        await eventually(lambda: driver.health.state is AdapterState.NO_ADAPTER)
        mock.obj.AddAdapter("hci0", "gateway", dbus_interface=BLUEZ_MOCK)  # plugged in
        await eventually(lambda: driver.health.state is AdapterState.SCANNING)
        # The dongle dies: silence, a restart, and "adapter not found" until it is back
        mock.obj.RemoveAdapter("hci0", dbus_interface=BLUEZ_MOCK)
        await eventually(lambda: driver.health.state is AdapterState.NO_ADAPTER)
        assert driver.health.restarts == 1
        mock.obj.AddAdapter("hci0", "gateway", dbus_interface=BLUEZ_MOCK)
        await eventually(lambda: driver.health.state is AdapterState.SCANNING)
    finally:
        if mock is not None:
            mock.terminate()
        bus.stop()
        if saved is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = saved


def _recorded(service_data: dict[str, bytes]) -> dict[str, Any]:
    return {
        "ServiceData": dbus.Dictionary(
            {uuid: dbus.Array(data, signature="y") for uuid, data in service_data.items()},
            signature="sv",
        ),
        "ManufacturerData": dbus.Dictionary({}, signature="qv"),
        "RSSI": dbus.Int16(-58),
    }


@pytest.mark.asyncio
async def test_a_recorded_three_temperature_device_through_bluez_is_read_channel_by_channel(
    bluez: Any, background: Start, collected: Collected
) -> None:
    """bthome-ble's recorded test_bthome_triple_temperature_double_humidity_battery
    advertisement through bleak's BlueZ backend: three probes on one MAC, one per channel;
    then the same device advertising humidity only gives none of them a reading."""
    uuid = "0000fcd2-0000-1000-8000-00805f9b34fb"
    triple = bytes.fromhex("4002ca0902cf0902cf0803b71803b717015d")
    humidity_only = bytes.fromhex("4003bf13")
    probes = [
        BleProbe(code=f"P{n}", mac=MAC, format=BleFormat.BTHOME, channel=str(n), compartment="F/m")
        for n in (1, 2, 3)
    ]
    settings = BleSettings(scanning_mode="active", backoff_initial_s=0.1, backoff_max_s=0.2)
    driver = BleDriver(probes, settings, collected.reading, SystemClock())
    background(driver.run())
    await eventually(lambda: driver.health.state is AdapterState.SCANNING)
    path = "/org/bluez/hci0/dev_" + MAC.replace(":", "_")
    properties = {
        "Address": dbus.String(MAC),
        "AddressType": dbus.String("public"),
        "Alias": dbus.String("bthome"),
        "Adapter": dbus.ObjectPath("/org/bluez/hci0"),
        "Paired": dbus.Boolean(False),
        "Connected": dbus.Boolean(False),
        "Trusted": dbus.Boolean(False),
        "Blocked": dbus.Boolean(False),
        "ServicesResolved": dbus.Boolean(False),
        "UUIDs": dbus.Array([], signature="s"),
        **_recorded({uuid: triple}),
    }
    bluez.obj.AddObject(
        path, DEVICE, properties, dbus.Array([], signature="(ssss)"), dbus_interface=MOCK
    )
    bluez.obj.EmitSignal(
        "org.freedesktop.DBus.ObjectManager",
        "InterfacesAdded",
        "oa{sa{sv}}",
        [dbus.ObjectPath(path), dbus.Dictionary({DEVICE: properties}, signature="sa{sv}")],
        dbus_interface=MOCK,
    )
    await eventually(lambda: len(collected.readings) == 3)
    got = {r.probe: (r.temperature, r.humidity, r.battery) for r in collected.readings}
    assert got == {
        "P1": (25.06, 63.27, 93.0),
        "P2": (25.11, 60.71, 93.0),
        "P3": (22.55, None, 93.0),
    }
    bus = dbus.bus.BusConnection(os.environ["DBUS_SYSTEM_BUS_ADDRESS"])
    try:
        device = bus.get_object("org.bluez", path)
        device.UpdateProperties(DEVICE, _recorded({uuid: humidity_only}), dbus_interface=MOCK)
    finally:
        bus.close()
    await eventually(lambda: driver.health.probes["P1"].packets == 2)
    assert len(collected.readings) == 3  # no temperature in it: no reading, not the last one
