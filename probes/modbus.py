"""Modbus probe driver: one task per bus polls its devices, one request per device per poll.

A bus (an RS-485 line or a Modbus TCP link) is serialised by one lock with a silent gap between
frames. First polls are spread over one interval; a device that falls due within a tenth of its
interval (at most 1 s) of the poll before is polled right after it, without a timer and a
wake-up of its own: on a fast link these cost about as much CPU as the poll itself
(`bench.poll_layers` measures both ways). Each device keeps its schedule:
`next_due` advances by whole intervals, so it is never polled more than `early_s` before it is
due.

A device that fails is retried within its poll, then counted: its probes are reported
`bus_error` only after `unavailable_after` consecutive failed polls, and they recover by
themselves on the next good answer. One dead slave costs its own timeout and nothing else. A
link that cannot be opened (unplugged adapter, unreachable TCP gateway) is reopened with capped,
jittered backoff while its probes report `bus_error`.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU

from gateway.core.backoff import Backoff
from gateway.core.cancelling import raise_if_cancelling
from gateway.core.clock import Clock
from gateway.core.errors import ColdchainError
from probes.modbus_decode import decode_channel
from probes.profiles import RegisterProfile
from probes.reading import ProbeStatus, Reading
from probes.settings import ModbusProbe, RtuBus, TcpBus

log = logging.getLogger(__name__)

Emit = Callable[[Reading], Awaitable[None]]

#: How early a device may be polled, as a fraction of its interval, to join the polls of one
#: wake-up: never more than `EARLY_MAX_S`. Two polls of one device are at least
#: `interval - early` apart and the schedule does not drift.
EARLY_FRACTION = 0.1
EARLY_MAX_S = 1.0


class ModbusClient(Protocol):
    """The part of pymodbus' async clients the driver uses (lets tests inject a client)."""

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> bool: ...

    def close(self) -> None: ...

    def read_input_registers(
        self,
        address: int,
        *,
        count: int = ...,
        device_id: int = ...,
        no_response_expected: bool = ...,
    ) -> Awaitable[ModbusPDU]: ...

    def read_holding_registers(
        self,
        address: int,
        *,
        count: int = ...,
        device_id: int = ...,
        no_response_expected: bool = ...,
    ) -> Awaitable[ModbusPDU]: ...


class PollError(ColdchainError):
    """One poll of one device failed (timeout, exception response, short or garbled reply)."""

    code: ClassVar[str] = "modbus_poll_failed"


@dataclass(slots=True)
class PolledDevice:
    """One slave on a bus and the probes it serves, polled with a single request."""

    device_id: int
    profile: RegisterProfile
    channels: dict[int, str]
    interval_s: float
    next_due: float = 0.0
    failures: int = 0
    unavailable: bool = False
    last_error: str | None = None
    polls: int = 0
    failed_polls: int = 0

    @property
    def early_s(self) -> float:
        """How early this device may be polled to share a wake-up with the poll before."""
        return min(self.interval_s * EARLY_FRACTION, EARLY_MAX_S)

    @property
    def label(self) -> str:
        return f"device {self.device_id} ({self.profile.name}, probes {', '.join(self.probes)})"

    @property
    def probes(self) -> list[str]:
        return [self.channels[channel] for channel in sorted(self.channels)]


@dataclass(frozen=True, slots=True)
class _Request:
    """What one poll of a device asks and how its answer is spread over probes: fixed for the
    driver's life, so worked out once rather than at every poll."""

    start: int
    count: int
    input_registers: bool
    #: (channel, probe code) in channel order.
    channels: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, device: PolledDevice) -> _Request:
        start, count = device.profile.span(set(device.channels))
        return cls(
            start,
            count,
            device.profile.register_type == "input",
            tuple(sorted(device.channels.items())),
        )


@dataclass(slots=True)
class BusHealth:
    connected: bool = False
    link_error: str | None = None
    reconnects: int = 0
    devices: list[PolledDevice] = field(default_factory=list)


def make_client(bus: RtuBus | TcpBus) -> ModbusClient:
    """A pymodbus client with its own retries and reconnects off: the driver owns both."""
    if isinstance(bus, TcpBus):
        return AsyncModbusTcpClient(
            bus.host,
            port=bus.port,
            timeout=bus.timeout_s,
            retries=0,
            reconnect_delay=0,
            name=bus.name,
        )
    return AsyncModbusSerialClient(
        bus.device,
        framer=FramerType.RTU,
        baudrate=bus.baudrate,
        parity=bus.parity.value,
        stopbits=bus.stopbits,
        timeout=bus.timeout_s,
        retries=0,
        reconnect_delay=0,
        name=bus.name,
    )


def devices_on_bus(
    probes: Iterable[ModbusProbe], profiles: Mapping[str, RegisterProfile], bus_name: str
) -> list[PolledDevice]:
    """Group the probes of one bus by slave, so each slave is read with one request."""
    devices: dict[int, PolledDevice] = {}
    for probe in probes:
        if probe.bus != bus_name:
            continue
        device = devices.get(probe.device_id)
        if device is None:
            device = PolledDevice(
                probe.device_id, profiles[probe.profile], {}, probe.poll_interval_s
            )
            devices[probe.device_id] = device
        device.channels[probe.channel] = probe.code
        device.interval_s = min(device.interval_s, probe.poll_interval_s)
    return sorted(devices.values(), key=lambda device: device.device_id)


class ModbusBusDriver:
    """Polls every device of one bus until cancelled."""

    def __init__(
        self,
        bus: RtuBus | TcpBus,
        devices: Sequence[PolledDevice],
        emit: Emit,
        clock: Clock,
        client_factory: Callable[[RtuBus | TcpBus], ModbusClient] = make_client,
    ) -> None:
        self.bus = bus
        if not devices:
            raise ValueError(f"bus {bus.name}: no devices to poll")
        self.devices = list(devices)
        self.health = BusHealth(devices=self.devices)
        self._requests = {device.device_id: _Request.of(device) for device in self.devices}
        self._emit = emit
        self._clock = clock
        self._client_factory = client_factory
        self._client: ModbusClient | None = None
        self._lock = asyncio.Lock()
        self._last_frame_end = float("-inf")
        self._backoff = Backoff(bus.backoff_initial_s, bus.backoff_max_s)

    @property
    def name(self) -> str:
        return self.bus.name

    async def run(self) -> None:
        """Poll each device when due, spreading first polls over one interval; a device due
        within its `early_s` is polled at once (see the module docstring)."""
        start = self._clock.monotonic()
        due: list[tuple[float, int]] = []
        for index, device in enumerate(self.devices):
            device.next_due = start + device.interval_s * index / len(self.devices)
            heapq.heappush(due, (device.next_due, index))
        try:
            while True:
                _, index = heapq.heappop(due)
                device = self.devices[index]
                wait = device.next_due - self._clock.monotonic()
                if wait > device.early_s:
                    await self._clock.sleep(wait)
                if await self._ensure_link():
                    await self.poll(device)
                else:
                    await self._fail(device, self.health.link_error or "link down")
                raise_if_cancelling()
                device.next_due = max(device.next_due + device.interval_s, self._clock.monotonic())
                heapq.heappush(due, (device.next_due, index))
        finally:
            self._close()

    async def poll(self, device: PolledDevice) -> None:
        """Read one device (with retries) and emit one reading per probe it serves."""
        device.polls += 1
        request = self._requests[device.device_id]
        error = ""
        for _attempt in range(self.bus.retries + 1):
            try:
                registers = await self._read(request, device.device_id)
            except PollError as failure:
                raise_if_cancelling()
                error = str(failure)
                continue
            await self._succeed(device, request, registers)
            return
        await self._fail(device, error)

    async def _read(self, request: _Request, device_id: int) -> list[int]:
        if self._client is None:
            raise PollError("link is closed")
        read = (
            self._client.read_input_registers
            if request.input_registers
            else self._client.read_holding_registers
        )
        async with self._lock:
            gap = self.bus.frame_gap_s - (self._clock.monotonic() - self._last_frame_end)
            if gap > 0:
                await self._clock.sleep(gap)
            try:
                response = await read(request.start, count=request.count, device_id=device_id)
            except ModbusException as error:
                raise PollError(_describe(error)) from None
            finally:
                self._last_frame_end = self._clock.monotonic()
        if response.isError():
            code = getattr(response, "exception_code", "?")
            raise PollError(f"exception response, code {code}")
        registers = list(getattr(response, "registers", []))
        if len(registers) != request.count:
            raise PollError(f"expected {request.count} registers, got {len(registers)}")
        return registers

    async def _succeed(self, device: PolledDevice, request: _Request, registers: list[int]) -> None:
        if device.unavailable:
            log.info(
                "bus %s: %s answers again after %d failed polls",
                self.name,
                device.label,
                device.failures,
            )
        device.failures = 0
        device.unavailable = False
        device.last_error = None
        now = self._clock.now()
        profile = device.profile
        for channel, probe in request.channels:
            value = decode_channel(profile, channel, request.start, registers)
            if value.status is not ProbeStatus.OK:
                log.debug("probe %s: %s (raw 0x%04X)", probe, value.status, value.raw)
            await self._emit(Reading(probe, now, value.status, value.temperature, value.humidity))

    async def _fail(self, device: PolledDevice, error: str) -> None:
        device.failures += 1
        device.failed_polls += 1
        device.last_error = error
        if device.failures < self.bus.unavailable_after:
            log.debug("bus %s: %s failed (%s)", self.name, device.label, error)
            return
        if not device.unavailable:
            device.unavailable = True
            log.warning(
                "bus %s: %s unavailable after %d failed polls: %s",
                self.name,
                device.label,
                device.failures,
                error,
            )
        now = self._clock.now()
        for probe in device.probes:
            await self._emit(Reading(probe, now, ProbeStatus.BUS_ERROR))

    async def _ensure_link(self) -> bool:
        if self._client is not None and self._client.connected:
            return True
        if self._backoff.attempts and self._clock.monotonic() < self._retry_at:
            return False
        self._close()
        self._client = self._client_factory(self.bus)
        if await self._client.connect():
            if self.health.link_error is not None:
                log.info("bus %s: link open again", self.name)
            self.health.connected = True
            self.health.link_error = None
            self._backoff.reset()
            return True
        self.health.connected = False
        first = self.health.link_error is None
        self.health.link_error = self._link_problem()
        self.health.reconnects += 1
        delay = self._backoff.next_delay()
        self._retry_at = self._clock.monotonic() + delay
        (log.warning if first else log.debug)(
            "bus %s: %s; retrying in %.1f s", self.name, self.health.link_error, delay
        )
        return False

    _retry_at: float = 0.0

    def _link_problem(self) -> str:
        bus = self.bus
        if isinstance(bus, RtuBus):
            if not os.path.exists(bus.device):
                return (
                    f"serial port {bus.device} does not exist: check the USB adapter is "
                    "plugged in and the path (ls /dev/serial/by-id)"
                )
            return (
                f"cannot open serial port {bus.device}: check permissions (the dialout group) "
                "and that no other program holds it"
            )
        return (
            f"cannot connect to Modbus TCP {bus.host}:{bus.port}: check the device is powered, "
            "on the network, and the address"
        )

    def _close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self.health.connected = False


def _describe(error: ModbusException) -> str:
    text = str(error).strip()
    if "No response" in text:
        return "no response (timeout)"
    return text.removeprefix("Modbus Error: ").strip() or type(error).__name__
