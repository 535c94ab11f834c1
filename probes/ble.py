"""BLE probe driver: one bleak scanner for all BLE probes, bound by MAC address and channel.

The detection callback (bleak calls it synchronously) keeps only advertisements from bound
MACs, records RSSI and the time seen, drops repeats of the same packet, and queues the new
ones; the driver task decodes each on its own and emits a reading, with battery, for each
bound channel the advertisement carries a temperature for. One that carries none (humidity
or battery only) gives no reading; one the parser rejects counts as a decode error of the
device's probes. A format without a packet counter (Govee, Inkbird) repeats an unchanged value
in identical packets: such a packet counts again after `resend_unchanged_s`, so a steady
fridge still gets readings (a repeat still shows its channels alive). Each probe learns the
interval of its valid temperatures (median gap) and is `stale` after `stale_multiple` such
intervals (at least `stale_min_s`; `stale_initial_s` until learned): a sensor that keeps
advertising without a valid temperature goes stale too.

The adapter is supervised: a scanner that will not start is retried with capped, jittered
backoff; one that goes silent (no advertisement from any device for `adapter_silence_s`) is
stopped and restarted; health shows the state. No adapter at all (no BlueZ, no hci device)
is not fatal: health says "no Bluetooth adapter: BLE probes disabled", the probes report
`bus_error`, and the driver keeps checking slowly so a dongle plugged in later is used.

Passive scanning needs BlueZ's advertisement monitor API (BlueZ >= 5.56, experimental
features on); in `auto` mode the driver tries passive first and falls back to active.

The scanner itself (bleak, imported only when BLE probes are configured) is in
`probes.ble_scanner`.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gateway.core.backoff import Backoff
from gateway.core.clock import Clock
from probes.ble_decode import (
    Advertisement,
    BleDecodeError,
    BleFormat,
    Channel,
    Decoded,
    Decoder,
    make_decoder,
)
from probes.ble_scanner import (
    AdapterFailedError,
    AdapterMissingError,
    ScanMode,
    ScannerFactory,
    ScannerLike,
    advertisement_from_bleak,
    bleak_scanner,
)
from probes.reading import ProbeStatus, Reading
from probes.settings import BleProbe, BleSettings

log = logging.getLogger(__name__)

Emit = Callable[[Reading], Awaitable[None]]
NO_ADAPTER = "no Bluetooth adapter: BLE probes disabled"
QUEUE_SIZE = 256
_MIN_GAP_S = 0.05  # receptions closer than this are one advertising event (adv + scan response)


class AdapterState(StrEnum):
    STARTING = "starting"
    SCANNING = "scanning"
    RESTARTING = "restarting"
    NO_ADAPTER = "no_adapter"
    FAILED = "failed"


@dataclass(slots=True)
class BleProbeHealth:
    """`last_seen`: any advertisement of the device; `last_valid`: the last one with a valid
    temperature on this probe's channel, whose gaps teach the interval."""

    code: str
    mac: str
    format: BleFormat
    channel: str = ""
    rssi: int | None = None
    battery: float | None = None
    battery_voltage: float | None = None
    last_seen: float | None = None
    last_valid: float | None = None
    packets: int = 0
    duplicates: int = 0
    decode_errors: int = 0
    last_error: str | None = None
    channels_seen: tuple[str, ...] = ()
    stale: bool = False
    gaps: deque[float] = field(default_factory=lambda: deque(maxlen=32))

    @property
    def learned_interval_s(self) -> float | None:
        return statistics.median(self.gaps) if len(self.gaps) >= 3 else None


@dataclass(slots=True)
class BleHealth:
    state: AdapterState = AdapterState.STARTING
    message: str | None = None
    mode: ScanMode | None = None
    restarts: int = 0
    advertisements: int = 0
    dropped: int = 0
    probes: dict[str, BleProbeHealth] = field(default_factory=dict)


@dataclass(slots=True)
class _Bound:
    """One device (MAC): its decoder and its probes by channel."""

    decoder: Decoder
    probes: dict[str, BleProbe]
    health: dict[str, BleProbeHealth]
    fingerprint: tuple[object, ...] | None = None
    queued_at: float = float("-inf")
    valid: frozenset[str] = frozenset()
    """The channels the last decoded packet carried a valid temperature for."""


class BleDriver:
    """Scans until cancelled; see the module docstring."""

    def __init__(
        self,
        probes: Sequence[BleProbe],
        settings: BleSettings,
        emit: Emit,
        clock: Clock,
        scanner_factory: ScannerFactory | None = None,
    ) -> None:
        if not probes:
            raise ValueError("the BLE driver needs at least one BLE probe")
        self.settings = settings
        self.health = BleHealth()
        self._emit = emit
        self._clock = clock
        self._factory = scanner_factory or bleak_scanner
        self._bound: dict[str, _Bound] = {}
        self._probes: dict[str, BleProbe] = {}
        for probe in probes:
            probe_health = BleProbeHealth(probe.code, probe.mac, probe.format, probe.channel)
            self.health.probes[probe.code] = probe_health
            self._probes[probe.code] = probe
            bound = self._bound.get(probe.mac)
            if bound is None:
                decoder = make_decoder(probe.format, probe.key_bytes)
                bound = self._bound[probe.mac] = _Bound(decoder, {}, {})
            bound.probes[probe.channel] = probe
            bound.health[probe.channel] = probe_health
        self._formats = sorted({probe.format for probe in probes})
        self._queue: asyncio.Queue[tuple[_Bound, Advertisement]] = asyncio.Queue(QUEUE_SIZE)
        self._last_any = clock.monotonic()
        self._backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s)
        self._started_at = clock.monotonic()
        self._down_reported = False

    name = "ble"

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._supervise(), name="ble:adapter")
            group.create_task(self._consume(), name="ble:decode")
            group.create_task(self._watch_stale(), name="ble:stale")

    # -- detection callback (synchronous, called by bleak) -----------------------------------

    def on_detection(self, device: Any, data: Any) -> None:
        """bleak's detection callback: cheap, never raises into bleak."""
        now = self._clock.monotonic()
        self._last_any = now
        self.health.advertisements += 1
        bound = self._bound.get(str(device.address).upper())
        if bound is None:
            return
        advertisement = advertisement_from_bleak(device, data)
        for probe in bound.health.values():
            probe.last_seen = now
            probe.rssi = advertisement.rssi
        fingerprint = advertisement.fingerprint()
        resend = min(probe.resend_unchanged_s for probe in bound.probes.values())
        if fingerprint == bound.fingerprint and now - bound.queued_at < resend:
            for channel, probe in bound.health.items():
                probe.duplicates += 1
                if channel in bound.valid:
                    self._valid(probe, now)
            return
        bound.fingerprint = fingerprint
        bound.queued_at = now
        try:
            self._queue.put_nowait((bound, advertisement))
        except asyncio.QueueFull:
            self.health.dropped += 1

    # -- decoding ------------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            bound, advertisement = await self._queue.get()
            await self._decode(bound, advertisement)

    async def _decode(self, bound: _Bound, advertisement: Advertisement) -> None:
        try:
            decoded = bound.decoder.decode(advertisement)
        except BleDecodeError as error:
            bound.valid = frozenset()
            for probe in bound.health.values():
                probe.decode_errors += 1
                first = probe.last_error != str(error)
                probe.last_error = str(error)
                (log.warning if first else log.debug)("BLE probe %s: %s", probe.code, error)
            return
        bound.valid = frozenset(
            name for name, channel in decoded.channels.items() if channel.temperature is not None
        )
        now = self._clock.monotonic()
        for name, probe in bound.health.items():
            probe.packets += 1
            probe.last_error = None
            probe.battery = decoded.battery
            probe.battery_voltage = decoded.battery_voltage
            if decoded.channels:
                probe.channels_seen = tuple(decoded.channels)
            channel = decoded.channels.get(name)
            if channel is None:
                continue  # this advertisement says nothing about this probe's temperature
            if channel.temperature is not None:
                self._valid(probe, now)
            await self._emit(self._reading(probe.code, channel, decoded))

    def _valid(self, probe: BleProbeHealth, now: float) -> None:
        """A valid temperature of this probe's channel was received at `now`."""
        if probe.last_valid is not None and now - probe.last_valid >= _MIN_GAP_S:
            probe.gaps.append(now - probe.last_valid)
        probe.last_valid = now
        if probe.stale:
            probe.stale = False
            log.info("BLE probe %s advertises a temperature again", probe.code)

    def _reading(self, code: str, channel: Channel, decoded: Decoded) -> Reading:
        now = self._clock.now()
        if channel.temperature is None:
            return Reading(code, now, ProbeStatus.DISCONNECTED, battery=decoded.battery)
        return Reading(
            code,
            now,
            ProbeStatus.OK,
            channel.temperature,
            humidity=channel.humidity,
            battery=decoded.battery,
        )

    # -- staleness -------------------------------------------------------------------------------

    def stale_after_s(self, code: str) -> float:
        config = self._probes[code]
        interval = self.health.probes[code].learned_interval_s
        if interval is None:
            return config.stale_initial_s
        return max(config.stale_min_s, config.stale_multiple * interval)

    async def _watch_stale(self) -> None:
        # Limits change as intervals are learned, so look again at least every `period`.
        period = min(10.0, *(probe.stale_min_s / 2 for probe in self._probes.values()))
        while True:
            now = self._clock.monotonic()
            next_check = now + period
            for probe in self.health.probes.values():
                since = probe.last_valid if probe.last_valid is not None else self._started_at
                due = since + self.stale_after_s(probe.code)
                if now >= due and not probe.stale:
                    probe.stale = True
                    if self.health.state is AdapterState.SCANNING:
                        log.warning(
                            "BLE probe %s (%s) without a valid temperature for %.0f s: stale",
                            probe.code,
                            probe.mac,
                            now - since,
                        )
                        await self._emit(Reading(probe.code, self._clock.now(), ProbeStatus.STALE))
                elif now < due:
                    next_check = min(next_check, due)
            await self._clock.sleep(max(next_check - now, 0.01))

    # -- adapter supervision ---------------------------------------------------------------------

    async def _supervise(self) -> None:
        while True:
            scanner = await self._start()
            if scanner is None:
                await self._clock.sleep(self._backoff.next_delay())
                continue
            try:
                await self._watch_adapter()
            finally:
                await self._stop(scanner)
            self.health.restarts += 1
            self.health.state = AdapterState.RESTARTING

    async def _start(self) -> ScannerLike | None:
        try:
            scanner = await self._factory(self.on_detection, self.settings, self._formats)
            await scanner.start()
        except AdapterMissingError as error:
            await self._adapter_down(AdapterState.NO_ADAPTER, f"{NO_ADAPTER} ({error})")
            return None
        except AdapterFailedError as error:
            await self._adapter_down(
                AdapterState.FAILED,
                f"Bluetooth adapter {self.settings.adapter} failed: {error}; check "
                "`bluetoothctl show` and `rfkill list`; retrying",
            )
            return None
        if self.health.state is not AdapterState.STARTING or self._down_reported:
            log.info("BLE: scanning again (%s)", scanner.mode)
        self.health.state = AdapterState.SCANNING
        self.health.message = None
        self.health.mode = scanner.mode
        self._down_reported = False
        self._backoff.reset()
        self._last_any = self._clock.monotonic()
        return scanner

    async def _adapter_down(self, state: AdapterState, message: str) -> None:
        first = self.health.message != message
        self.health.state = state
        self.health.message = message
        self.health.mode = None
        (log.warning if first else log.debug)("BLE: %s", message)
        if not self._down_reported:
            self._down_reported = True
            now = self._clock.now()
            for code in self._probes:
                await self._emit(Reading(code, now, ProbeStatus.BUS_ERROR))

    async def _watch_adapter(self) -> None:
        silence = self.settings.adapter_silence_s
        while True:
            quiet = self._clock.monotonic() - self._last_any
            if quiet >= silence:
                log.warning(
                    "BLE: no advertisement from any device for %.0f s: restarting the scanner "
                    "on %s",
                    quiet,
                    self.settings.adapter,
                )
                return
            await self._clock.sleep(silence - quiet)

    async def _stop(self, scanner: ScannerLike) -> None:
        try:
            await scanner.stop()
        except (AdapterFailedError, AdapterMissingError) as error:
            log.debug("BLE: stopping the scanner failed (%s); starting anew", error)
