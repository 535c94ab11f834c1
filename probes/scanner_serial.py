"""Serial and USB-CDC barcode scanners in line mode: each code arrives followed by CR, LF or
CRLF. Raw bytes are kept exactly (non-UTF-8 included); overlong lines are refused and logged;
a flooding scanner loses its excess; an unplugged scanner is reopened with backoff."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.core.backoff import Backoff
from gateway.core.clock import Clock
from probes.scan import FloodGuard, LineFramer, LineTooLong, Scan
from probes.scanner_settings import HidScanner, SerialScanner
from probes.serial_probe import LinkOpener, open_serial, port_problem

log = logging.getLogger(__name__)

ScanSink = Callable[[Scan], Awaitable[object]]


def _always_synced() -> bool:
    return True


@dataclass(slots=True)
class ScannerHealth:
    connected: bool = False
    error: str | None = None
    reconnects: int = 0
    scans: int = 0
    refused: int = 0
    flood_dropped: int = 0
    last_refused: str | None = None


class ScanGate:
    """What every scanner driver does with a finished line: refuse, rate-limit, stamp, send."""

    def __init__(
        self,
        config: SerialScanner | HidScanner,
        sink: ScanSink,
        clock: Clock,
        synced: Callable[[], bool],
        health: ScannerHealth,
    ) -> None:
        self.config = config
        self._sink = sink
        self._clock = clock
        self._synced = synced
        self._health = health
        self._guard = FloodGuard(config.rate_per_s, config.burst)

    async def line(self, line: bytes | LineTooLong) -> None:
        name = self.config.name
        if isinstance(line, LineTooLong):
            self._refuse(f"line of {line.length} bytes exceeds max_line {self.config.max_line}")
            return
        if not self._guard.allow(self._clock.monotonic()):
            self._health.flood_dropped = self._guard.dropped
            (log.warning if self._guard.dropped == 1 else log.debug)(
                "scanner %s floods: more than %s scans/s, dropping the excess",
                name,
                self.config.rate_per_s,
            )
            return
        self._health.scans += 1
        scan = Scan(line, name, self.config.station, self._clock.now(), self._synced())
        await self._sink(scan)

    def _refuse(self, reason: str) -> None:
        self._health.refused += 1
        first = self._health.last_refused is None
        self._health.last_refused = reason
        (log.warning if first else log.debug)(
            "scanner %s: scan refused: %s", self.config.name, reason
        )


class ScannerDriver(ABC):
    """The reconnect loop every scanner driver shares: open, read lines until the device goes,
    report it once, wait a capped jittered backoff, open again. Subclasses read one session."""

    def __init__(
        self,
        config: SerialScanner | HidScanner,
        sink: ScanSink,
        clock: Clock,
        synced: Callable[[], bool],
    ) -> None:
        self.config = config
        self.health = ScannerHealth()
        self._gate = ScanGate(config, sink, clock, synced, self.health)
        self._clock = clock
        self._backoff = Backoff(config.backoff_initial_s, config.backoff_max_s)

    @property
    def name(self) -> str:
        return f"scanner:{self.config.name}"

    async def run(self) -> None:
        while True:
            try:
                await self._session()
            except OSError as error:
                self._lost()
                first = self.health.error is None
                self.health.connected = False
                self.health.error = self._problem(error)
                self.health.reconnects += 1
                delay = self._backoff.next_delay()
                (log.warning if first else log.debug)(
                    "%s: %s; retrying in %.1f s", self.name, self.health.error, delay
                )
                await self._clock.sleep(delay)

    def _opened(self, what: str) -> None:
        if self.health.error is not None:
            log.info("%s: %s", self.name, what)
        self.health.connected, self.health.error = True, None
        self._backoff.reset()

    @abstractmethod
    async def _session(self) -> None:
        """Open the device and feed its lines to the gate until it fails (OSError)."""

    @abstractmethod
    def _problem(self, error: OSError) -> str:
        """What is wrong with the device, and the fix, for health and the log."""

    @abstractmethod
    def _lost(self) -> None:
        """Forget any half-read line when the device goes away."""


class SerialScannerDriver(ScannerDriver):
    def __init__(
        self,
        config: SerialScanner,
        sink: ScanSink,
        clock: Clock,
        opener: LinkOpener = open_serial,
        synced: Callable[[], bool] = _always_synced,
    ) -> None:
        super().__init__(config, sink, clock, synced)
        self._port = config
        self._opener = opener

    async def _session(self) -> None:
        async with self._opener(self._port.port, self._port.baudrate) as link:
            self._opened("port open again")
            framer = LineFramer(self._port.max_line)
            while True:
                for line in framer.feed(await link.read()):
                    await self._gate.line(line)

    def _problem(self, error: OSError) -> str:
        return port_problem(self._port.port, error)

    def _lost(self) -> None:
        """Nothing to forget: each session starts its own line framer."""
