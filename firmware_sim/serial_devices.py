"""A serial line probe (logger) and a serial barcode scanner, writing to one end of a pty pair.

The logger writes `T1=+04.5,T2=-18.2` lines (optionally with an `*HH` XOR checksum and a
chosen terminator) from scenarios; the scanner writes given codes, byte for byte, each followed
by its terminator. Both write with plain file I/O on the pty (non-blocking writes of a few
bytes to a pty do not block), driven by the injected clock.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from firmware_sim.scenarios import Scenario
from gateway.core.clock import Clock
from gateway.core.compartments import CompartmentKind
from probes.serial_lines import checksum


class PtyWriter:
    """Raw writes to a pty end (opened non-blocking, no controlling terminal)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def close(self) -> None:
        os.close(self._fd)


@dataclass(frozen=True, slots=True)
class LoggerChannel:
    key: str
    scenario: Scenario
    kind: CompartmentKind = CompartmentKind.REFRIGERATED


def logger_line(
    channels: Sequence[LoggerChannel],
    elapsed_s: float,
    *,
    with_checksum: bool = False,
    missing: str = "----",
) -> bytes:
    """One logger line, e.g. b'T1=+04.5,T2=-18.2' (and '*HH' when `with_checksum`)."""
    parts = []
    for channel in channels:
        sample = channel.scenario.sample(elapsed_s, channel.kind)
        value = missing if sample.temperature is None else f"{sample.temperature:+05.1f}"
        parts.append(f"{channel.key}={value}")
    body = ",".join(parts).encode("ascii")
    if with_checksum:
        body += b"*%02X" % checksum("xor8", body)
    return body


async def run_logger(
    writer: PtyWriter,
    channels: Sequence[LoggerChannel],
    clock: Clock,
    *,
    interval_s: float = 10.0,
    terminator: bytes = b"\r\n",
    with_checksum: bool = False,
) -> None:
    """Write one line per interval until cancelled; a silent scenario sample skips the line."""
    start = clock.monotonic()
    while True:
        elapsed = clock.monotonic() - start
        if not any(c.scenario.sample(elapsed, c.kind).silent for c in channels):
            writer.write(logger_line(channels, elapsed, with_checksum=with_checksum) + terminator)
        await clock.sleep(interval_s)


async def run_scanner(
    writer: PtyWriter,
    codes: Sequence[bytes],
    clock: Clock,
    *,
    gap_s: float = 1.0,
    terminator: bytes = b"\r",
) -> None:
    """Write each code followed by the terminator, `gap_s` apart."""
    for code in codes:
        writer.write(code + terminator)
        await clock.sleep(gap_s)
