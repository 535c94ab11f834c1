"""Serial line probes: a logger writes one line per measurement on a serial port.

One driver per port reads lines (CR, LF or CRLF), parses each against the port's line format
and emits one reading per configured probe. A missing sensor (`----`) is `disconnected`; a
line that does not parse is logged (once, then at debug level) and counted, never stored; no
good line for `stale_after_s` makes the probes `stale`; a port that cannot be opened or goes
away (USB adapter unplugged) makes them `bus_error` and is reopened with capped, jittered
backoff.

`SerialLink` reads a port with pyserial and the event loop's `add_reader`: no threads (the
asyncio wrappers for pyserial open and close ports in a thread pool).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.core.backoff import Backoff
from gateway.core.clock import Clock
from probes.reading import ProbeStatus, Reading
from probes.scan import LineFramer, LineTooLong
from probes.serial_lines import LineFormatError, parse_line
from probes.settings import SerialProbe

log = logging.getLogger(__name__)

Emit = Callable[[Reading], Awaitable[None]]


class Link(Protocol):
    async def read(self) -> bytes:
        """Some bytes; raises OSError when the port is gone."""
        ...


class SerialLink:
    """A serial port opened non-blocking; `read` waits on the event loop for data."""

    def __init__(self, port: str, baudrate: int) -> None:
        import serial

        self.port = port
        self._serial: Any = serial.Serial(port, baudrate=baudrate, timeout=0, exclusive=True)
        self._fd: int = self._serial.fileno()

    async def read(self) -> bytes:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        loop.add_reader(self._fd, _wake, ready)
        try:
            await ready
        finally:
            loop.remove_reader(self._fd)
        data: bytes = self._serial.read(self._serial.in_waiting or 1)
        if not data:
            raise OSError(f"serial port {self.port} returned no data: device unplugged?")
        return data

    def close(self) -> None:
        self._serial.close()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


LinkOpener = Callable[[str, int], contextlib.AbstractAsyncContextManager[Link]]


@contextlib.asynccontextmanager
async def open_serial(port: str, baudrate: int) -> AsyncIterator[Link]:
    import serial

    try:
        link = SerialLink(port, baudrate)
    except serial.SerialException as error:
        raise OSError(str(error)) from None
    try:
        yield link
    finally:
        link.close()


def port_problem(port: str, error: BaseException) -> str:
    """What to tell the operator when a port fails."""
    import os

    if not os.path.exists(port):
        return (
            f"serial port {port} does not exist: check the USB adapter is plugged in and the "
            "path (ls /dev/serial/by-id)"
        )
    return (
        f"serial port {port} failed ({error}): check permissions (the dialout group) and "
        "that no other program holds it"
    )


@dataclass(slots=True)
class LinkHealth:
    connected: bool = False
    link_error: str | None = None
    reconnects: int = 0
    lines: int = 0
    bad_lines: int = 0
    last_bad_line: str | None = None


class SerialProbeDriver:
    """Reads one logger's port until cancelled; the probes must share port and format."""

    def __init__(
        self,
        probes: Sequence[SerialProbe],
        emit: Emit,
        clock: Clock,
        opener: LinkOpener = open_serial,
    ) -> None:
        if not probes:
            raise ValueError("a serial probe driver needs at least one probe")
        self.probes = list(probes)
        self.port = probes[0].port
        self.format = probes[0].format
        self.health = LinkHealth()
        self._emit = emit
        self._clock = clock
        self._opener = opener
        first = probes[0]
        self._backoff = Backoff(first.backoff_initial_s, first.backoff_max_s)
        self._stale_after = min(probe.stale_after_s for probe in probes)
        self._last_good = clock.monotonic()
        self._stale_reported = False

    @property
    def name(self) -> str:
        return f"serial:{self.port}"

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._watch_stale(), name=f"{self.name}:stale")
            group.create_task(self._read_forever(), name=f"{self.name}:read")

    async def _read_forever(self) -> None:
        while True:
            try:
                async with self._opener(self.port, self.probes[0].baudrate) as link:
                    self._opened()
                    framer = LineFramer(self.format.max_line)
                    while True:
                        for line in framer.feed(await link.read()):
                            await self._line(line)
            except OSError as error:
                await self._link_down(error)

    def _opened(self) -> None:
        if self.health.link_error is not None:
            log.info("%s: port open again", self.name)
        self.health.connected = True
        self.health.link_error = None
        self._backoff.reset()

    async def _link_down(self, error: OSError) -> None:
        first = self.health.link_error is None
        self.health.connected = False
        self.health.link_error = port_problem(self.port, error)
        self.health.reconnects += 1
        delay = self._backoff.next_delay()
        (log.warning if first else log.debug)(
            "%s: %s; retrying in %.1f s", self.name, self.health.link_error, delay
        )
        if first:
            await self._emit_all(ProbeStatus.BUS_ERROR)
        await self._clock.sleep(delay)

    async def _line(self, line: bytes | LineTooLong) -> None:
        try:
            values = self._parse(line)
        except LineFormatError as error:
            self.health.bad_lines += 1
            first = self.health.last_bad_line is None
            self.health.last_bad_line = str(error)
            (log.warning if first else log.debug)("%s: bad line: %s", self.name, error)
            return
        self.health.lines += 1
        self.health.last_bad_line = None
        self._last_good = self._clock.monotonic()
        self._stale_reported = False
        now = self._clock.now()
        for probe in self.probes:
            temperature = values[probe.field]
            humidity = values.get(probe.humidity_field) if probe.humidity_field else None
            if temperature is None:
                await self._emit(Reading(probe.code, now, ProbeStatus.DISCONNECTED))
            else:
                await self._emit(
                    Reading(probe.code, now, ProbeStatus.OK, temperature, humidity=humidity)
                )

    def _parse(self, line: bytes | LineTooLong) -> dict[str, float | None]:
        if isinstance(line, LineTooLong):
            raise LineFormatError(
                f"line of {line.length} bytes exceeds max_line {self.format.max_line}"
            )
        return parse_line(self.format, line)

    async def _watch_stale(self) -> None:
        while True:
            due = self._last_good + self._stale_after
            await self._clock.sleep(max(due - self._clock.monotonic(), 0.001))
            if self._clock.monotonic() >= self._last_good + self._stale_after and not (
                self._stale_reported
            ):
                self._stale_reported = True
                if self.health.connected:
                    log.warning(
                        "%s: no valid line for %g s: probes stale", self.name, self._stale_after
                    )
                    await self._emit_all(ProbeStatus.STALE)

    async def _emit_all(self, status: ProbeStatus) -> None:
        now = self._clock.now()
        for probe in self.probes:
            await self._emit(Reading(probe.code, now, status))
