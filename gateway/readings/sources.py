"""What every driver is to the gateway (`Driver`, the `Emit` its readings go through), the scan
store that scanners and `POST /api/scans` write to, and the drivers' health as JSON.

The drivers themselves are built in one place, `gateway.runtime.drivers`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from gateway.readings.clock_sync import SCANS, ClockSync
from gateway.settings import Settings
from probes.reading import Reading

if TYPE_CHECKING:
    from gateway.storage.scans import ScanListener, ScanSink, ScanStore

Emit = Callable[[Reading], Awaitable[None]]


class Driver(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def health(self) -> object: ...

    def run(self) -> Coroutine[Any, Any, None]: ...


@dataclass(slots=True)
class Sources:
    """The scan store (scans from the scanners and from `POST /api/scans`, which the ledger
    reads) and the sink that commits a scan and hands it on."""

    scan_store: ScanStore
    record: ScanSink


def drivers_health(drivers: Iterable[Driver]) -> list[dict[str, object]]:
    """The health of drivers beside the polled buses, as JSON."""
    return [{"name": driver.name, **_plain(driver.health)} for driver in drivers]


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
    sync: ClockSync,
    resources: contextlib.ExitStack | contextlib.AsyncExitStack,
    *,
    scan_listeners: Sequence[ScanListener] = (),
) -> Sources:
    """The scan store; every scan, from a scanner or the API, is committed and then handed to
    `scan_listeners` (alarm presence, the ledger)."""
    from gateway.storage import registry
    from gateway.storage.scans import ScanStore, scan_sink

    store = resources.enter_context(
        ScanStore(
            settings.gateway.data_dir / registry.SCANS.file, synchronous=settings.store.synchronous
        )
    )
    sync.track(SCANS, store)
    return Sources(store, scan_sink(store, scan_listeners))
