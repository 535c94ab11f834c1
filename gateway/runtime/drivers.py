"""Every driver of every transport, built in one place and run as one service.

A driver has a key (`gateway.runtime.hot_reload.driver_specs`: `bus:NAME` for a polled Modbus bus,
`source:ble`, `source:serial:PORT`; `scanner:NAME` for a barcode scanner) and runs as a task of
that name. A reload restarts only the drivers whose spec changed; a bus lent to a discovery scan
is held (not polled) until released. Each driver module is imported only when the
configuration uses it: memory on a Pi.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gateway.core.clock import Clock
from gateway.readings.clock_sync import ClockSync
from gateway.readings.sources import Driver, Emit
from gateway.runtime.hot_reload import driver_specs, serial_ports
from gateway.runtime.service import Service, Stage
from gateway.runtime.supervisor import stop_tasks
from gateway.settings import Settings
from probes.modbus import ModbusBusDriver, devices_on_bus
from probes.settings import BleProbe, ModbusProbe

if TYPE_CHECKING:
    from gateway.storage.scans import ScanSink

log = logging.getLogger(__name__)


def all_specs(settings: Settings) -> dict[str, object]:
    """The spec of every driver by its key: equal specs, same driver."""
    return driver_specs(settings) | {
        f"scanner:{scanner.name}": scanner for scanner in settings.scanners
    }


class DriverFactory:
    """Builds the driver of one key from the settings: the one place drivers are made."""

    def __init__(self, emit: Emit, scans: ScanSink, clock: Clock, synced: ClockSync) -> None:
        self._emit = emit
        self._scans = scans
        self._clock = clock
        self._synced = synced

    def bus(self, settings: Settings, name: str) -> ModbusBusDriver:
        bus = next(bus for bus in settings.buses if bus.name == name)
        devices = devices_on_bus(settings.probes_of(ModbusProbe), settings.all_profiles(), name)
        return ModbusBusDriver(bus, devices, self._emit, self._clock)

    def source(self, settings: Settings, key: str) -> Driver:
        kind, _, name = key.partition(":")
        if kind == "scanner":
            scanner = next(item for item in settings.scanners if item.name == name)
            if scanner.kind == "hid":
                from probes.scanner_hid import HidScannerDriver

                return HidScannerDriver(scanner, self._scans, self._clock, synced=self._synced)
            from probes.scanner_serial import SerialScannerDriver

            return SerialScannerDriver(scanner, self._scans, self._clock, synced=self._synced)
        if name == "ble":
            from probes.ble import BleDriver
            from probes.settings import BleSettings

            ble = settings.ble or BleSettings()
            return BleDriver(settings.probes_of(BleProbe), ble, self._emit, self._clock)
        from probes.serial_probe import SerialProbeDriver

        port = name.removeprefix("serial:")
        return SerialProbeDriver(serial_ports(settings)[port], self._emit, self._clock)


class DriverPool(Service):
    """The running drivers, each a named task, replaceable one by one.

    `buses()` are the polled buses (their links are watched by the alarms and shown in
    health); `sources()` the other drivers. Once stopped, nothing starts again."""

    name = "drivers"
    stage = Stage.DRIVERS

    def __init__(self, settings: Settings, factory: DriverFactory) -> None:
        self._settings = settings
        self._factory = factory
        self._buses: dict[str, ModbusBusDriver] = {}
        self._sources: dict[str, Driver] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._held: set[str] = set()
        self._group: asyncio.TaskGroup | None = None
        self._lock = asyncio.Lock()

    @property
    def settings(self) -> Settings:
        return self._settings

    def buses(self) -> list[ModbusBusDriver]:
        return list(self._buses.values())

    def sources(self) -> list[Driver]:
        return list(self._sources.values())

    def keys(self) -> list[str]:
        return sorted(self._tasks)

    def health(self) -> object:
        return {key: driver.health for key, driver in self._running().items()}

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                for key in all_specs(self._settings):
                    self._start(key)
                await asyncio.Event().wait()
            finally:
                self._group = None  # nothing starts while the group stops its tasks

    async def reconfigure(self, settings: Settings) -> None:
        """Restart the drivers whose spec changed, start the new ones, stop the gone ones."""
        async with self._lock:
            before, after = all_specs(self._settings), all_specs(settings)
            self._settings = settings
            changed = [key for key, spec in before.items() if after.get(key) != spec]
            await self._stop(changed)
            for key, spec in after.items():
                if before.get(key) != spec:
                    self._start(key)

    async def hold(self, key: str) -> None:
        """Stop the driver of `key` until `release` (a discovery scan needs its port)."""
        async with self._lock:
            self._held.add(key)
            await self._stop([key])

    async def release(self, key: str) -> None:
        """Start the driver of `key` again, with the settings of this moment."""
        async with self._lock:
            self._held.discard(key)
            if key in all_specs(self._settings):
                self._start(key)

    def _running(self) -> dict[str, Driver]:
        return {**{f"bus:{name}": bus for name, bus in self._buses.items()}, **self._sources}

    def _start(self, key: str) -> None:
        group = self._group
        if group is None or key in self._held or key in self._tasks:
            return
        driver: Driver
        if key.startswith("bus:"):
            name = key.removeprefix("bus:")
            driver = self._buses[name] = self._factory.bus(self._settings, name)
        else:
            driver = self._sources[key] = self._factory.source(self._settings, key)
        self._tasks[key] = group.create_task(driver.run(), name=key)

    async def _stop(self, keys: Iterable[str]) -> None:
        tasks = []
        for key in keys:
            self._buses.pop(key.removeprefix("bus:"), None)
            self._sources.pop(key, None)
            if (task := self._tasks.pop(key, None)) is not None:
                task.cancel()
                tasks.append(task)
        await stop_tasks(tasks)
