"""Parse one line of a line-oriented serial logger against a configured format. Pure.

The format is data (`SerialLineFormat` in `probes.settings`): named fields as
`KEY=value` pairs (`T1=+04.5,T2=-18.2`) or by position (`+04.5;-18.2`), a scale and offset per
field, the strings the logger sends for a missing sensor, and an optional checksum after a
marker (`...*3A`). Anything wrong raises `LineFormatError`, naming the field and the reason.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from probes.settings import SerialLineFormat


class LineFormatError(ValueError):
    """A line does not match its format; the message says where and why."""


def checksum(kind: str, data: bytes) -> int:
    """`xor8`: XOR of all bytes (NMEA style); `sum8`: their sum modulo 256."""
    if kind == "xor8":
        value = 0
        for byte in data:
            value ^= byte
        return value
    if kind == "sum8":
        return sum(data) & 0xFF
    raise ValueError(f"unknown checksum kind {kind!r}: use 'xor8' or 'sum8'")


def _text(line: bytes) -> str:
    try:
        return line.decode("ascii")
    except UnicodeDecodeError as error:
        raise LineFormatError(
            f"byte 0x{line[error.start]:02X} at position {error.start} is not ASCII "
            "(wrong baud rate or line noise?)"
        ) from None


def _verify(fmt: SerialLineFormat, line: bytes) -> bytes:
    if fmt.checksum == "none":
        return line
    marker = fmt.checksum_marker.encode("ascii")
    body, found, tail = line.rpartition(marker)
    if not found:
        raise LineFormatError(f"no checksum: expected {fmt.checksum_marker!r} and 2 hex digits")
    try:
        expected = int(_text(tail).strip(), 16)
    except ValueError:
        raise LineFormatError(f"checksum {tail!r} is not two hex digits") from None
    actual = checksum(fmt.checksum, body)
    if len(tail.strip()) != 2 or expected != actual:
        raise LineFormatError(
            f"{fmt.checksum} checksum mismatch: line says {tail.decode('ascii', 'replace')}, "
            f"computed {actual:02X}"
        )
    return body


def parse_line(fmt: SerialLineFormat, line: bytes) -> dict[str, float | None]:
    """Values by field name, scaled; None where the logger reports a missing sensor."""
    body = _text(_verify(fmt, line)).strip()
    if fmt.prefix:
        if not body.startswith(fmt.prefix):
            raise LineFormatError(f"line does not start with {fmt.prefix!r}")
        body = body[len(fmt.prefix) :]
    parts = [part.strip() for part in body.split(fmt.separator)]
    raw: dict[str, str] = {}
    if fmt.style == "key_value":
        for part in parts:
            key, found, value = part.partition(fmt.assign)
            if found:
                raw[key.strip()] = value.strip()
    else:
        if len(parts) < len(fmt.fields):
            raise LineFormatError(f"{len(parts)} values, expected {len(fmt.fields)}")
        raw = {spec.label: parts[index] for index, spec in enumerate(fmt.fields)}
    values: dict[str, float | None] = {}
    for spec in fmt.fields:
        text = raw.get(spec.label)
        if text is None:
            raise LineFormatError(f"field {spec.label!r} ({spec.name}) is missing")
        if text in fmt.missing:
            values[spec.name] = None
            continue
        try:
            number = float(text)
        except ValueError:
            raise LineFormatError(
                f"field {spec.label!r} ({spec.name}): {text!r} is not a number"
            ) from None
        scaled = round(number * spec.scale + spec.offset, 6)
        if not math.isfinite(scaled):
            raise LineFormatError(f"field {spec.label!r} ({spec.name}): {text!r} is not finite")
        values[spec.name] = scaled
    return values
