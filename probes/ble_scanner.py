"""The BLE driver's view of a scanner, and bleak's scanner behind it: the adapter's two
errors, bleak's detections as our `Advertisement`s, and `bleak_scanner`, passive through
BlueZ's advertisement monitor when it can, else active.

bleak is imported only here, inside functions, and only when BLE probes are configured.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Literal, Protocol

from gateway.core.errors import ColdchainError
from probes.ble_decode import Advertisement, BleFormat
from probes.settings import BleSettings

log = logging.getLogger(__name__)


ScanMode = Literal["passive", "active"]


class AdapterMissingError(ColdchainError):
    """No Bluetooth adapter or no BlueZ on this machine."""

    code: ClassVar[str] = "ble_adapter_missing"


class AdapterFailedError(ColdchainError):
    """The adapter exists but scanning could not start or stopped working."""

    code: ClassVar[str] = "ble_adapter_failed"


class ScannerLike(Protocol):
    mode: ScanMode

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


DetectionCallback = Callable[[Any, Any], None]
ScannerFactory = Callable[
    [DetectionCallback, BleSettings, Sequence[BleFormat]], Awaitable[ScannerLike]
]


def advertisement_from_bleak(device: Any, data: Any) -> Advertisement:
    """bleak's (BLEDevice, AdvertisementData) to our Advertisement."""
    return Advertisement(
        address=str(device.address).upper(),
        name=data.local_name or device.name,
        manufacturer_data=dict(data.manufacturer_data),
        service_data=dict(data.service_data),
        service_uuids=tuple(data.service_uuids),
        rssi=int(data.rssi),
    )


def _or_patterns(formats: Sequence[BleFormat]) -> list[Any]:
    """BlueZ advertisement-monitor patterns matching the configured formats (passive mode)."""
    from bleak.args.bluez import OrPattern
    from bleak.assigned_numbers import AdvertisementDataType as Ad

    by_format = {
        BleFormat.BTHOME: [(Ad.SERVICE_DATA_UUID16, b"\xd2\xfc")],
        BleFormat.XIAOMI: [(Ad.SERVICE_DATA_UUID16, b"\x95\xfe")],
        BleFormat.ATC: [(Ad.SERVICE_DATA_UUID16, b"\x1a\x18")],
        BleFormat.RUUVI: [(Ad.MANUFACTURER_SPECIFIC_DATA, b"\x99\x04")],
        BleFormat.GOVEE: [(Ad.MANUFACTURER_SPECIFIC_DATA, b"\x88\xec")],
        # Inkbird puts the temperature in the company id: match the local name instead.
        BleFormat.INKBIRD: [(Ad.COMPLETE_LOCAL_NAME, b"sps"), (Ad.COMPLETE_LOCAL_NAME, b"tps")],
    }
    return [OrPattern(0, kind, content) for fmt in formats for kind, content in by_format[fmt]]


class _BleakScanner:
    def __init__(self, scanner: Any, mode: ScanMode) -> None:
        self._scanner = scanner
        self.mode: ScanMode = mode

    async def start(self) -> None:
        await _translated(self._scanner.start())

    async def stop(self) -> None:
        await _translated(self._scanner.stop())


async def _translated(call: Awaitable[None]) -> None:
    """bleak's and D-Bus's errors as the driver's two adapter errors."""
    from bleak.exc import BleakBluetoothNotAvailableError, BleakError

    try:
        await call
    except BleakBluetoothNotAvailableError as error:
        raise AdapterMissingError(str(error)) from None
    except FileNotFoundError as error:
        raise AdapterMissingError(
            f"no BlueZ system D-Bus ({error.filename or error}); install and start bluez"
        ) from None
    except BleakError as error:
        text = str(error)
        if "not found" in text:
            raise AdapterMissingError(text) from None
        raise AdapterFailedError(text or type(error).__name__) from None
    except (OSError, EOFError) as error:
        raise AdapterFailedError(f"{type(error).__name__}: {error}") from None


async def bleak_scanner(
    callback: DetectionCallback, settings: BleSettings, formats: Sequence[BleFormat]
) -> ScannerLike:
    """bleak's BleakScanner on the configured adapter; in `auto` mode passive if BlueZ can
    (probed by starting it), else active."""
    from bleak import BleakScanner

    if settings.scanning_mode in ("auto", "passive"):
        passive = BleakScanner(
            callback,
            scanning_mode="passive",
            bluez={"adapter": settings.adapter, "or_patterns": _or_patterns(formats)},
        )
        if settings.scanning_mode == "passive":
            return _BleakScanner(passive, "passive")
        try:
            await _translated(passive.start())
            await _translated(passive.stop())
            return _BleakScanner(passive, "passive")
        except AdapterFailedError as error:
            log.info("BLE: passive scanning unavailable (%s): scanning actively", error)
    active = BleakScanner(callback, scanning_mode="active", bluez={"adapter": settings.adapter})
    return _BleakScanner(active, "active")
