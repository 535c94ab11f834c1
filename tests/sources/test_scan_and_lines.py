"""Pure parts: line framing, flood guard, the serial line parser, time integrity, settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from probes.ble_decode import BleFormat
from probes.reading import ProbeStatus, Reading
from probes.scan import FloodGuard, LineFramer, LineTooLong, Scan
from probes.scanner_settings import HidScanner, SerialScanner, check_serial_ports
from probes.serial_lines import LineFormatError, checksum, parse_line
from probes.settings import BleProbe, LineField, SerialLineFormat, SerialProbe, check_ble_probes
from probes.time_integrity import flag_unsynced, kernel_clock_synced

T0 = datetime(2026, 3, 1, tzinfo=UTC)
GS1 = b"]d2\x1d01069012345678901721123110ABC123\x1d21XYZ"


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"A\rB\nC\r\nD\r\n"], [b"A", b"B", b"C", b"D"]),
        ([b"A\r", b"\nB\r", b"\n"], [b"A", b"B"]),  # CRLF split across reads
        ([b"\r\n\r\n\n\rX\n"], [b"X"]),  # empty lines skipped
        ([b"partial"], []),
        ([GS1 + b"\r"], [GS1]),
        ([b"\xff\xfe\x00bin\n"], [b"\xff\xfe\x00bin"]),  # non-UTF-8 kept exactly
    ],
)
def test_framing(chunks: list[bytes], lines: list[bytes]) -> None:
    framer = LineFramer(64)
    out: list[bytes | LineTooLong] = []
    for chunk in chunks:
        out += framer.feed(chunk)
    assert out == lines


def test_overlong_line_is_refused_once_and_the_next_line_is_fine() -> None:
    framer = LineFramer(8)
    assert framer.feed(b"0123456789abcdef\r\nok\n") == [LineTooLong(16), b"ok"]
    assert framer.feed(b"12345678\n") == [b"12345678"]


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=50), max_size=20), st.integers(1, 40))
def test_framing_never_loses_or_invents_bytes(chunks: list[bytes], limit: int) -> None:
    framer = LineFramer(limit)
    out: list[bytes | LineTooLong] = []
    for chunk in chunks:
        out += framer.feed(chunk)
    for line in out:
        if isinstance(line, bytes):
            assert 0 < len(line) <= limit
            assert b"\r" not in line
            assert b"\n" not in line
            assert line in b"".join(chunks)
        else:
            assert line.length > limit


def test_scan_keeps_symbology_and_refuses_naive_times() -> None:
    scan = Scan(GS1, "s1", "desk", T0)
    assert scan.symbology == "]d2"
    assert Scan(b"123", "s1", "desk", T0).symbology is None
    with pytest.raises(ValueError, match="timezone-aware"):
        Scan(b"1", "s1", "desk", datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="at least one byte"):
        Scan(b"", "s1", "desk", T0)


def test_flood_guard() -> None:
    guard = FloodGuard(rate_per_s=2, burst=3)
    assert [guard.allow(0.0) for _ in range(5)] == [True, True, True, False, False]
    assert guard.allow(0.5)  # one token back after 0.5 s at 2/s
    assert not guard.allow(0.5)
    assert guard.dropped == 3


FMT = SerialLineFormat(
    fields=[LineField(name="fridge", key="T1"), LineField(name="freezer", key="T2")]
)


def test_key_value_lines() -> None:
    assert parse_line(FMT, b"T1=+04.5,T2=-18.2") == {"fridge": 4.5, "freezer": -18.2}
    assert parse_line(FMT, b" T2=-18.2 , T1=4.5 , T3=1") == {"fridge": 4.5, "freezer": -18.2}
    assert parse_line(FMT, b"T1=----,T2=-18.2") == {"fridge": None, "freezer": -18.2}
    with pytest.raises(LineFormatError, match="'T2' \\(freezer\\) is missing"):
        parse_line(FMT, b"T1=4.5")
    with pytest.raises(LineFormatError, match="not a number"):
        parse_line(FMT, b"T1=abc,T2=1")
    with pytest.raises(LineFormatError, match="not ASCII"):
        parse_line(FMT, b"T1=4\xb0C,T2=1")
    with pytest.raises(LineFormatError, match="not finite"):
        parse_line(FMT, b"T1=nan,T2=1")


def test_positional_scale_offset_and_checksum() -> None:
    fmt = SerialLineFormat(
        style="positional",
        separator=";",
        prefix="$TMP",
        fields=[LineField(name="a", scale=0.1), LineField(name="b", scale=0.1, offset=-0.5)],
        checksum="xor8",
    )
    body = b"$TMP45;-182"
    line = body + b"*%02X" % checksum("xor8", body)
    assert parse_line(fmt, line) == {"a": 4.5, "b": -18.7}
    with pytest.raises(LineFormatError, match="checksum mismatch"):
        parse_line(fmt, body + b"*00" if checksum("xor8", body) else body + b"*01")
    with pytest.raises(LineFormatError, match="no checksum"):
        parse_line(fmt, body)
    with pytest.raises(LineFormatError, match="does not start"):
        parse_line(fmt, b"45;-182*" + b"%02X" % checksum("xor8", b"45;-182"))
    assert checksum("sum8", b"\xff\x02") == 1


@settings(max_examples=400)
@given(st.binary(max_size=80))
def test_arbitrary_bytes_raise_only_line_format_errors(line: bytes) -> None:
    for fmt in (FMT, FMT.model_copy(update={"checksum": "sum8"})):
        try:
            values = parse_line(fmt, line)
        except LineFormatError:
            continue
        assert set(values) == {"fridge", "freezer"}


def test_ble_probe_settings() -> None:
    probe = BleProbe(
        code="B1",
        mac="a4:c1:38:00:00:01",
        format=BleFormat.BTHOME,
        bind_key="ab" * 16,
        compartment="F/m",
    )
    assert probe.mac == "A4:C1:38:00:00:01"
    assert probe.key_bytes == bytes([0xAB] * 16)
    with pytest.raises(ValidationError, match="a bthome key has 32"):
        BleProbe(code="B", mac=probe.mac, format=BleFormat.BTHOME, bind_key="ab", compartment="F/m")
    with pytest.raises(ValidationError, match="not encrypted"):
        BleProbe(
            code="B", mac=probe.mac, format=BleFormat.GOVEE, bind_key="ab" * 16, compartment="F/m"
        )
    twin = probe.model_copy(update={"code": "B2"})
    problems = check_ble_probes([probe, twin])
    assert len(problems) == 1
    assert "A4:C1:38:00:00:01 is bound to 2 probes" in problems[0].message


def test_serial_settings_and_port_checks() -> None:
    with pytest.raises(ValidationError, match="field 'T9' is not in the line format"):
        SerialProbe(code="S", port="/dev/ttyUSB0", format=FMT, field="T9", compartment="F/m")
    with pytest.raises(ValidationError, match="appears more than once"):
        SerialLineFormat(fields=[LineField(name="a", key="T1"), LineField(name="b", key="T1")])
    a = SerialProbe(code="S1", port="/dev/ttyUSB0", format=FMT, field="fridge", compartment="F/m")
    b = a.model_copy(update={"code": "S2", "field": "freezer"})
    assert check_serial_ports([a, b], []) == []
    c = b.model_copy(update={"baudrate": 19200})
    assert "different baudrate or line format" in check_serial_ports([a, c], [])[0].message
    scanner = SerialScanner(kind="serial", name="sc", station="desk", port="/dev/ttyUSB0")
    hid = HidScanner(kind="hid", name="sc", station="desk", device="/dev/input/event3")
    messages = [p.message for p in check_serial_ports([a], [scanner, hid], ["/dev/ttyUSB0"])]
    assert any("used by a Modbus RTU bus and the serial logger" in m for m in messages)
    assert any("scanner name 'sc' is used 2 times" in m for m in messages)


@pytest.mark.asyncio
async def test_flag_unsynced_wraps_any_driver_emit(tmp_path: Path) -> None:
    seen: list[Reading] = []

    async def emit(reading: Reading) -> None:
        seen.append(reading)

    state = {"synced": False}
    wrapped = flag_unsynced(emit, lambda: state["synced"])
    await wrapped(Reading("P", T0, ProbeStatus.OK, 4.0))
    state["synced"] = True
    await wrapped(Reading("P", T0, ProbeStatus.OK, 4.0))
    assert [r.clock_synced for r in seen] == [False, True]
    flag = tmp_path / "synchronized"
    flag.touch()
    assert kernel_clock_synced(flag)
