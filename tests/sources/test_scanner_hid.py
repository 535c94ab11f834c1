"""Keyboard-wedge scanners: the key decoder against evdev's own key codes, and the driver
with a fake input device (no /dev/uinput on the test machines) including unplug and replug."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import AsyncIterator

import pytest

from gateway.core.clock import FakeClock
from probes.scan import GS, LineTooLong
from probes.scanner_hid import (
    EV_KEY,
    KEY_LEFTCTRL,
    KEY_LEFTSHIFT,
    PLAIN,
    SHIFTED,
    HidScannerDriver,
    InputDevice,
    KeyDecoder,
)
from probes.scanner_settings import HidScanner
from tests.sources.conftest import Collected, Start

evdev = pytest.importorskip("evdev")
ecodes = evdev.ecodes


def test_key_table_matches_the_kernel_codes() -> None:
    names = {
        "1": "KEY_1",
        "a": "KEY_A",
        "z": "KEY_Z",
        "]": "KEY_RIGHTBRACE",
        "/": "KEY_SLASH",
        "-": "KEY_MINUS",
        ".": "KEY_DOT",
        "`": "KEY_GRAVE",
        "\\": "KEY_BACKSLASH",
    }
    for char, name in names.items():
        assert PLAIN[ecodes.ecodes[name]] == char
    assert SHIFTED[ecodes.KEY_A] == "A"
    assert SHIFTED[ecodes.KEY_9] == "("
    assert PLAIN[ecodes.KEY_KP5] == "5"
    assert (KEY_LEFTSHIFT, KEY_LEFTCTRL) == (ecodes.KEY_LEFTSHIFT, ecodes.KEY_LEFTCTRL)


def _type(text: bytes) -> list[tuple[int, int]]:
    """Key events (code, value) a US-layout scanner sends for `text` and Enter."""
    reverse = {char: code for code, char in PLAIN.items()}
    reverse_shift = {char: code for code, char in SHIFTED.items() if char not in reverse}
    events: list[tuple[int, int]] = []
    for byte in text:
        if byte == GS:
            events += [
                (KEY_LEFTCTRL, 1),
                (ecodes.KEY_RIGHTBRACE, 1),
                (ecodes.KEY_RIGHTBRACE, 0),
                (KEY_LEFTCTRL, 0),
            ]
            continue
        char = chr(byte)
        if char in reverse:
            events += [(reverse[char], 1), (reverse[char], 0)]
        else:
            code = reverse_shift[char]
            events += [(KEY_LEFTSHIFT, 1), (code, 1), (code, 0), (KEY_LEFTSHIFT, 0)]
    return [*events, (ecodes.KEY_ENTER, 1), (ecodes.KEY_ENTER, 0)]


GS1 = b"]d2\x1d0106901234567890172112311010ABC\x1d21SN-0001"


def _decode(decoder: KeyDecoder, events: list[tuple[int, int]]) -> list[bytes | LineTooLong]:
    out = [decoder.feed(code, value) for code, value in events]
    return [item for item in out if item is not None]


def test_gs1_with_ctrl_bracket_and_shift() -> None:
    assert _decode(KeyDecoder(256), _type(GS1)) == [GS1]


def test_gs_substitute_caps_lock_and_overlong() -> None:
    decoder = KeyDecoder(16, gs_substitute="~")
    events = _type(b"01~21X")
    assert _decode(decoder, events) == [b"01\x1d21X"]
    caps = [(ecodes.KEY_CAPSLOCK, 1), (ecodes.KEY_CAPSLOCK, 0), *_type(b"ab")]
    assert _decode(decoder, caps) == [b"AB"]
    assert _decode(decoder, _type(b"x" * 40)) == [LineTooLong(40)]
    assert _decode(decoder, [(ecodes.KEY_ENTER, 1)]) == []  # empty scans are skipped
    assert _decode(decoder, [(ecodes.KEY_F1, 1), *_type(b"q")]) == [b"Q"]  # caps still on
    assert decoder.unknown_keys == 1


class FakeInputs:
    """Serves scripted event batches; an empty batch means "unplugged" (ENODEV)."""

    def __init__(self, batches: list[list[tuple[int, int]] | None]) -> None:
        self.batches = batches
        self.opened = 0
        self.grabbed = False

    @contextlib.asynccontextmanager
    async def open(self, path: str) -> AsyncIterator[InputDevice]:
        self.opened += 1
        batch = self.batches.pop(0) if self.batches else None
        if batch is None:
            raise OSError(errno.ENOENT, "No such file or directory", path)
        self.grabbed = True
        try:
            yield _Device(batch)
        finally:
            self.grabbed = False


class _Device:
    def __init__(self, events: list[tuple[int, int]]) -> None:
        self.events = events

    async def read_loop(self) -> AsyncIterator[tuple[int, int, int]]:
        for code, value in self.events:
            yield EV_KEY, code, value
        raise OSError(errno.ENODEV, "No such device")


@pytest.mark.asyncio
async def test_driver_survives_unplug_and_replug(
    clock: FakeClock, background: Start, collected: Collected
) -> None:
    half = _type(b"HALF")[:-2]  # unplugged mid-scan: the half scan is dropped
    inputs = FakeInputs([_type(b"ONE") + half, None, None, _type(GS1)])
    config = HidScanner(
        kind="hid",
        name="wedge",
        station="desk",
        device="/dev/input/by-id/scanner",
        backoff_initial_s=1,
        backoff_max_s=2,
    )
    driver = HidScannerDriver(config, collected.scan, clock, opener=inputs.open)
    background(driver.run())
    await clock.advance(0)
    assert [scan.raw for scan in collected.scans] == [b"ONE"]
    assert not driver.health.connected
    assert "input device /dev/input/by-id/scanner unavailable" in (driver.health.error or "")
    await clock.advance(10)
    assert [scan.raw for scan in collected.scans] == [b"ONE", GS1]
    assert inputs.opened >= 4
    assert collected.scans[1].station == "desk"
