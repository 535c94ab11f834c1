"""Keyboard-wedge barcode scanners read from their Linux input device (python-evdev).

The device is grabbed (EVIOCGRAB) so its keystrokes never reach the console or a logged-in
session. Key events are turned back into bytes with a US layout (what scanners default to):
Shift for upper case and symbols, Ctrl+] for GS (0x1D, the GS1 separator) and Ctrl+letter for
the other control characters, or the scanner's configured substitute character for GS. Enter
ends a scan. When the scanner is unplugged the read fails with ENODEV; the driver waits (with
backoff) until the device path exists again and grabs it anew.

`KeyDecoder` is pure. evdev is imported only by `open_evdev`, when an HID scanner is configured.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from gateway.core.clock import Clock
from probes.scan import GS, LineTooLong
from probes.scanner_serial import ScannerDriver, ScanSink, _always_synced
from probes.scanner_settings import HidScanner

log = logging.getLogger(__name__)

EV_KEY = 1
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2
# Key codes from linux/input-event-codes.h (checked against evdev.ecodes in the tests).
KEY_ENTER, KEY_KPENTER = 28, 96
KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_CAPSLOCK = 42, 54, 58
KEY_LEFTCTRL, KEY_RIGHTCTRL = 29, 97
_ROWS = {2: "1234567890-=", 16: "qwertyuiop[]", 30: "asdfghjkl;'`", 44: "zxcvbnm,./"}
_SHIFTED_ROWS = {2: "!@#$%^&*()_+", 16: "QWERTYUIOP{}", 30: 'ASDFGHJKL:"~', 44: "ZXCVBNM<>?"}
_EXTRA = {15: "\t", 43: "\\", 57: " ", 55: "*", 74: "-", 78: "+", 83: ".", 98: "/"}
_SHIFTED_EXTRA = {43: "|", 57: " ", 15: "\t"}
_KEYPAD_DIGITS = {71: "7", 72: "8", 73: "9", 75: "4", 76: "5", 77: "6", 79: "1", 80: "2"}
_KEYPAD_DIGITS |= {81: "3", 82: "0"}


def _table(rows: dict[int, str], extra: dict[int, str]) -> dict[int, str]:
    table = {
        start + index: char for start, chars in rows.items() for index, char in enumerate(chars)
    }
    return table | extra | _KEYPAD_DIGITS


PLAIN = _table(_ROWS, _EXTRA)
SHIFTED = _table(_SHIFTED_ROWS, _SHIFTED_EXTRA)


class KeyDecoder:
    """Key events in, finished scans (bytes or LineTooLong) out."""

    def __init__(self, max_line: int, gs_substitute: str | None = None) -> None:
        self.max_line = max_line
        self.gs_substitute = gs_substitute
        self._buffer = bytearray()
        self._overflow = 0
        self._shift: set[int] = set()
        self._ctrl: set[int] = set()
        self._caps = False
        self.unknown_keys = 0

    def feed(self, code: int, value: int) -> bytes | LineTooLong | None:
        held = self._modifiers(code)
        if held is not None:
            self._hold(held, code, value)
            return None
        if value == KEY_UP:
            return None
        if code in (KEY_ENTER, KEY_KPENTER):
            return self._finish()
        self._type(code)
        return None

    def _modifiers(self, code: int) -> set[int] | None:
        if code in (KEY_LEFTSHIFT, KEY_RIGHTSHIFT):
            return self._shift
        if code in (KEY_LEFTCTRL, KEY_RIGHTCTRL):
            return self._ctrl
        return None

    def _type(self, code: int) -> None:
        if code == KEY_CAPSLOCK:
            self._caps = not self._caps
            return
        byte = self._byte(code)
        if byte is None:
            self.unknown_keys += 1
            return
        if self._overflow or len(self._buffer) >= self.max_line:
            self._overflow = self._overflow or len(self._buffer)
            self._overflow += 1
            self._buffer.clear()
        else:
            self._buffer.append(byte)

    def _byte(self, code: int) -> int | None:
        if self._ctrl:
            char = PLAIN.get(code)
            if char == "]":
                return GS
            if char is not None and char.isalpha():
                return ord(char) & 0x1F
            return None
        shifted = bool(self._shift)
        char = (SHIFTED if shifted else PLAIN).get(code)
        if char is None:
            return None
        if self._caps and char.isalpha():
            char = char.swapcase()
        if self.gs_substitute is not None and char == self.gs_substitute:
            return GS
        return ord(char)

    @staticmethod
    def _hold(keys: set[int], code: int, value: int) -> None:
        if value == KEY_UP:
            keys.discard(code)
        else:
            keys.add(code)

    def _finish(self) -> bytes | LineTooLong | None:
        if self._overflow:
            result: bytes | LineTooLong | None = LineTooLong(self._overflow)
        else:
            result = bytes(self._buffer) or None
        self._buffer.clear()
        self._overflow = 0
        return result

    def reset(self) -> None:
        """Forget a half-typed scan and held modifiers (after an unplug)."""
        self._buffer.clear()
        self._overflow = 0
        self._shift.clear()
        self._ctrl.clear()


class InputDevice(Protocol):
    def read_loop(self) -> AsyncIterator[tuple[int, int, int]]:
        """(type, code, value) of each event; raises OSError when the device goes away."""
        ...


DeviceOpener = Callable[[str], contextlib.AbstractAsyncContextManager[InputDevice]]


class _EvdevDevice:
    def __init__(self, device: Any) -> None:
        self._device = device

    async def read_loop(self) -> AsyncIterator[tuple[int, int, int]]:
        async for event in self._device.async_read_loop():
            yield event.type, event.code, event.value


@contextlib.asynccontextmanager
async def open_evdev(path: str) -> AsyncIterator[InputDevice]:
    """Open and grab an input device; release it on exit (the grab ends with the fd anyway)."""
    import evdev

    device = evdev.InputDevice(path)
    try:
        device.grab()
        yield _EvdevDevice(device)
    finally:
        with contextlib.suppress(OSError):  # an unplugged device cannot be ungrabbed: fine
            device.ungrab()
        device.close()


class HidScannerDriver(ScannerDriver):
    def __init__(
        self,
        config: HidScanner,
        sink: ScanSink,
        clock: Clock,
        opener: DeviceOpener = open_evdev,
        synced: Callable[[], bool] = _always_synced,
    ) -> None:
        super().__init__(config, sink, clock, synced)
        self._input = config
        self._opener = opener
        self._decoder = KeyDecoder(config.max_line, config.gs_substitute)

    async def _session(self) -> None:
        async with self._opener(self._input.device) as device:
            self._opened("input device back, grabbed")
            async for event_type, code, value in device.read_loop():
                if event_type != EV_KEY:
                    continue
                line = self._decoder.feed(code, value)
                if line is not None:
                    await self._gate.line(line)

    def _lost(self) -> None:
        self._decoder.reset()

    def _problem(self, error: OSError) -> str:
        return (
            f"input device {self._input.device} unavailable ({error.strerror or error}): "
            "check the scanner is plugged in; as a service the gateway needs read access "
            "to /dev/input (the input group)"
        )
