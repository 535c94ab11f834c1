"""The probe sources beside Modbus, and the barcode scanners, built from the settings.

Each driver module (bleak and the BLE parsers, pyserial, evdev) is imported only when the
configuration uses it: memory on a Pi. Every reading goes through one `emit` that flags
readings taken while the wall clock is not synchronised (a Pi has no real-time clock).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gateway.clock_sync import SCANS, ClockSync
from gateway.core.clock import Clock
from gateway.settings import Settings
from probes.reading import Reading
from probes.settings import BleProbe, HidScanner, SerialProbe

if TYPE_CHECKING:
    from gateway.storage.scans import ScanListener, ScanSink, ScanStore

log = logging.getLogger(__name__)

Emit = Callable[[Reading], Awaitable[None]]


class Driver(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def health(self) -> object: ...

    def run(self) -> Coroutine[Any, Any, None]: ...


@dataclass(slots=True)
class Sources:
    """The drivers to run as named tasks, and the scan store (scans from the drivers and from
    `POST /api/scans`, which the ledger reads)."""

    scan_store: ScanStore
    record: ScanSink
    drivers: list[Driver] = field(default_factory=list)

    def health(self) -> list[dict[str, object]]:
        return [{"name": driver.name, **_plain(driver.health)} for driver in self.drivers]


def _plain(health: object) -> dict[str, object]:
    if dataclasses.is_dataclass(health) and not isinstance(health, type):
        return {key: _jsonable(value) for key, value in dataclasses.asdict(health).items()}
    return {"state": str(health)}


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def open_sources(
    settings: Settings,
    clock: Clock,
    emit: Emit,
    sync: ClockSync,
    resources: contextlib.ExitStack | contextlib.AsyncExitStack,
    *,
    scan_listeners: Sequence[ScanListener] = (),
) -> Sources:
    """Drivers for the configured sources; every scan, from a scanner or the API, is committed
    and then handed to `scan_listeners` (alarm presence, the ledger)."""
    from gateway.storage import registry
    from gateway.storage.scans import ScanStore, scan_sink

    store = resources.enter_context(
        ScanStore(
            settings.gateway.data_dir / registry.SCANS.file, synchronous=settings.store.synchronous
        )
    )
    sync.track(SCANS, store)
    sources = Sources(store, scan_sink(store, scan_listeners))
    ble_probes = settings.probes_of(BleProbe)
    if ble_probes:
        from probes.ble import BleDriver
        from probes.settings import BleSettings

        sources.drivers.append(BleDriver(ble_probes, settings.ble or BleSettings(), emit, clock))
    by_port: dict[str, list[SerialProbe]] = defaultdict(list)
    for probe in settings.probes_of(SerialProbe):
        by_port[probe.port].append(probe)
    if by_port:
        from probes.serial_probe import SerialProbeDriver

        sources.drivers += [SerialProbeDriver(probes, emit, clock) for probes in by_port.values()]
    if settings.scanners:
        sink = sources.record
        for scanner in settings.scanners:
            if isinstance(scanner, HidScanner):
                from probes.scanner_hid import HidScannerDriver

                sources.drivers.append(HidScannerDriver(scanner, sink, clock, synced=sync))
            else:
                from probes.scanner_serial import SerialScannerDriver

                sources.drivers.append(SerialScannerDriver(scanner, sink, clock, synced=sync))
    return sources
