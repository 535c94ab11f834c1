"""Barcode scans: the Scan event and line framing for line-mode scanners. Pure, no I/O.

A scan keeps its raw bytes exactly as the scanner sent them, minus the line terminator: GS1
group separators (0x1D) and AIM symbology identifiers (`]d2` for GS1 DataMatrix, `]C1` for
GS1-128...) are data the ledger needs to parse the code, never cleaned up here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

GS = 0x1D
DEFAULT_MAX_LINE = 512  # a GS1 DataMatrix carries at most ~2,300 bytes; vaccine codes < 200


@dataclass(frozen=True, slots=True)
class Scan:
    """One scan at one station. `taken_at` is UTC; `clock_synced` as for readings."""

    raw: bytes
    scanner: str
    station: str
    taken_at: datetime
    clock_synced: bool = True

    def __post_init__(self) -> None:
        if self.taken_at.tzinfo is None:
            raise ValueError(f"scan from {self.scanner}: taken_at must be timezone-aware")
        if not self.raw:
            raise ValueError(f"scan from {self.scanner}: a scan needs at least one byte")

    @property
    def symbology(self) -> str | None:
        """The AIM symbology identifier (`]d2`...) when the scanner prefixes one."""
        if len(self.raw) >= 3 and self.raw[0] == ord("]"):
            return self.raw[:3].decode("ascii", errors="replace")
        return None


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """A line longer than the limit was discarded; `length` bytes were seen before its end."""

    length: int


class LineFramer:
    """Splits a byte stream into lines ended by CR, LF or CRLF (a CRLF split across two reads
    still ends one line). Empty lines are skipped; a line longer than `max_length` is discarded
    whole and reported once as `LineTooLong`, so a scanner stuck in a loop cannot grow memory."""

    def __init__(self, max_length: int = DEFAULT_MAX_LINE) -> None:
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1, got {max_length}")
        self.max_length = max_length
        self._buffer = bytearray()
        self._discarding = 0
        self._after_cr = False

    def feed(self, data: bytes) -> list[bytes | LineTooLong]:
        out: list[bytes | LineTooLong] = []
        for byte in data:
            if byte == 0x0A and self._after_cr:
                self._after_cr = False
                continue
            self._after_cr = byte == 0x0D
            if byte in (0x0A, 0x0D):
                self._end_line(out)
            elif self._discarding:
                self._discarding += 1
            elif len(self._buffer) >= self.max_length:
                self._discarding = len(self._buffer) + 1
                self._buffer.clear()
            else:
                self._buffer.append(byte)
        return out

    def _end_line(self, out: list[bytes | LineTooLong]) -> None:
        if self._discarding:
            out.append(LineTooLong(self._discarding))
            self._discarding = 0
        elif self._buffer:
            out.append(bytes(self._buffer))
        self._buffer.clear()


class FloodGuard:
    """A token bucket per scanner: at most `burst` scans at once, `rate_per_s` sustained.

    A scanner that floods (a stuck trigger, a loop in continuous mode) loses its excess scans,
    counted in `dropped`, instead of filling the ledger and the store.
    """

    def __init__(self, rate_per_s: float, burst: int) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(
                f"flood guard needs rate > 0 and burst >= 1, got {rate_per_s}, {burst}"
            )
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._tokens = float(burst)
        self._last: float | None = None
        self.dropped = 0

    def allow(self, monotonic: float) -> bool:
        if self._last is not None:
            self._tokens = min(
                self.burst, self._tokens + (monotonic - self._last) * self.rate_per_s
            )
        self._last = monotonic
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        self.dropped += 1
        return False
