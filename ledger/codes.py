"""Classify a raw scan: Chinese trace code, GS1 element string, fridge label, ID number. Pure.

Scanners deliver raw bytes: AIM symbology identifiers (``]d2`` GS1 DataMatrix, ``]C1`` GS1-128,
``]Q3`` GS1 QR, ``]e0`` GS1 DataBar) and GS1 group separators (``\\x1d``) arrive as sent and are
kept. A trailing CR/LF (the scanner's suffix) is dropped.

- Chinese trace code (药品追溯码): 20 digits; the first 7 are the product identifier (药品标识码),
  then the unit serial and the check characters. The check algorithm is not public (seed 004),
  so we check only what is documented: 20 ASCII digits. The code resolves to product and batch
  through the local catalogue.
- GS1 (imported vaccines): parsed with biip; AI 01 (GTIN, with its check digit), 17 (expiry),
  10 (batch), 21 (serial).
- Fridge label: ``CCFRIDGE:<unit code>:<fridge code>``, printed by this project for each fridge.
- ID card number: 18 characters with a valid GB 11643 check digit.
Anything else is refused with a ScanError saying why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from ledger.errors import (
    IdNumberError,
    ScanEmptyError,
    ScanUnknownKindError,
    ScanUnreadableError,
)
from ledger.idcard import IdNumber, parse_id_number

GS1_SYMBOLOGIES = frozenset({"]d2", "]C1", "]Q3", "]e0", "]J1"})
_AIM = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_FRIDGE = re.compile(r"CCFRIDGE:([0-9]{10}):([A-Za-z0-9_-]{1,16})")
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9Xx]")
MAX_SCAN_BYTES = 512


@dataclass(frozen=True, slots=True)
class TraceCode:
    """A 20-digit Chinese trace code; `rest` is serial + check characters (split not public)."""

    code: str
    product_id: str
    rest: str


@dataclass(frozen=True, slots=True)
class Gs1Code:
    """A GS1 element string; `key` identifies the package (GTIN + serial) like a trace code."""

    raw: str
    gtin: str
    expiry: date | None
    batch_no: str | None
    serial: str | None

    @property
    def key(self) -> str:
        return f"01{self.gtin}21{self.serial or ''}"


@dataclass(frozen=True, slots=True)
class FridgeLabel:
    unit_code: str
    fridge_code: str


@dataclass(frozen=True, slots=True)
class IdCardScan:
    id_number: IdNumber


Scan = TraceCode | Gs1Code | FridgeLabel | IdCardScan


def trace_code(text: str) -> TraceCode | None:
    """`text` as a Chinese trace code (20 ASCII digits, the first 7 the product identifier),
    or None. The only rule checked, because it is the only one documented."""
    if len(text) == 20 and text.isascii() and text.isdigit():
        return TraceCode(code=text, product_id=text[:7], rest=text[7:])
    return None


def classify(raw: bytes | str) -> Scan:
    """Classify one scan; raise ScanError(field="scan", reason) when it is none of the kinds."""
    text = _decode(raw)
    symbology = ""
    match = _AIM.match(text)
    if match:
        symbology, text = match.group(0), text[match.end() :]
    if not text:
        raise ScanEmptyError("scan", "empty scan")
    if symbology in GS1_SYMBOLOGIES or "\x1d" in text:
        return _gs1(symbology + text)
    trace = trace_code(text)
    if trace is not None:
        return trace
    if text.isascii() and text.isdigit() and text.startswith("01") and len(text) > 20:
        return _gs1(text)  # a GS1 string from a scanner configured without AIM prefixes
    fridge = _FRIDGE.fullmatch(text)
    if fridge:
        return FridgeLabel(unit_code=fridge.group(1), fridge_code=fridge.group(2))
    if _ID_SHAPE.fullmatch(text):
        try:
            return IdCardScan(parse_id_number(text, field="scan"))
        except IdNumberError as error:
            raise ScanUnreadableError("scan", f"ID card number refused: {error.reason}") from None
    if text.isascii() and text.isdigit():
        raise ScanUnknownKindError(
            "scan",
            f"{len(text)} digits: not a 20-digit trace code, GS1 string or ID number",
            params={"digits": len(text)},
        )
    raise ScanUnknownKindError("scan", "not a trace code, GS1 code, fridge label or ID card number")


def _decode(raw: bytes | str) -> str:
    if isinstance(raw, bytes):
        if len(raw) > MAX_SCAN_BYTES:
            raise ScanUnreadableError("scan", f"longer than {MAX_SCAN_BYTES} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ScanUnreadableError("scan", "not text (invalid UTF-8 bytes)") from None
    else:
        text = raw
        if len(text) > MAX_SCAN_BYTES:
            raise ScanUnreadableError("scan", f"longer than {MAX_SCAN_BYTES} characters")
    text = text.rstrip("\r\n")
    if any(char in text for char in "\r\n\x00"):
        raise ScanUnreadableError("scan", "holds line breaks or NUL: two scans run together?")
    return text


def _gs1(text: str) -> Gs1Code:
    import biip  # ~17 MB: paid at the first GS1 scan, not by a gateway that never sees one

    try:
        result = biip.parse(text)
    except biip.ParseError as error:
        raise ScanUnreadableError("scan", f"GS1 string not understood: {error}") from None
    message = result.gs1_message
    if message is None:
        detail = result.gs1_message_error or "no GS1 element strings"
        raise ScanUnreadableError("scan", f"GS1 string not understood: {detail}")
    gtin_element = message.element_strings.get(ai="01")
    if gtin_element is None:
        raise ScanUnreadableError("scan", "GS1 string has no GTIN (AI 01)")
    if gtin_element.gtin_error:
        raise ScanUnreadableError("scan", f"GTIN (AI 01) refused: {gtin_element.gtin_error}")
    expiry = message.element_strings.get(ai="17")
    batch = message.element_strings.get(ai="10")
    serial = message.element_strings.get(ai="21")
    return Gs1Code(
        raw=text,
        gtin=gtin_element.value,
        expiry=expiry.date if expiry is not None else None,
        batch_no=batch.value if batch is not None else None,
        serial=serial.value if serial is not None else None,
    )
