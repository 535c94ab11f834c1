"""codes, idcard, batch_field: recorded vectors and properties (only LedgerError escapes)."""

from __future__ import annotations

import contextlib
import csv
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.batch_field import check_batch, is_plausible_batch
from ledger.codes import FridgeLabel, Gs1Code, IdCardScan, TraceCode, classify
from ledger.errors import BatchFieldError, IdNumberError, LedgerError, ScanError
from ledger.idcard import (
    PLACEHOLDER,
    check_digit,
    mask_id_number,
    mask_name,
    mask_phone,
    parse_id_number,
)

REFERENCE = Path(__file__).resolve().parents[2] / "config" / "reference"
GOOD_ID = "11010519491231002X"  # GB 11643 standard's own example


def test_trace_code_keeps_product_identifier() -> None:
    scan = classify(b"81900670270577219264\r\n")
    assert scan == TraceCode("81900670270577219264", "8190067", "0270577219264")


def test_gs1_datamatrix_with_aim_prefix_and_group_separator() -> None:
    scan = classify(b"]d2010690123456789217270103" + b"10C20260104\x1d21SN0001")
    assert scan == Gs1Code(
        raw="]d201069012345678921727010310C20260104\x1d21SN0001",
        gtin="06901234567892",
        expiry=date(2027, 1, 3),
        batch_no="C20260104",
        serial="SN0001",
    )


def test_gs1_128_without_separator_at_end() -> None:
    scan = classify("]C1010690123456789210ABC12")
    assert isinstance(scan, Gs1Code)
    assert scan.batch_no == "ABC12"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"]d20106901234567891", "check digit"),
        (b"]d2172701031012", "no GTIN"),
        (b"12345", "5 digits"),
        (b"\xff\xfe", "invalid UTF-8"),
        (b"", "empty"),
        (b"hello", "not a trace code"),
        (b"110105194912310021", "check digit"),
        (b"8190067027057721926\n8190067027057721926", "line breaks"),
    ],
)
def test_refused_scans_name_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(ScanError) as caught:
        classify(raw)
    assert caught.value.field == "scan"
    assert reason in caught.value.reason


def test_fridge_label_and_id_card() -> None:
    assert classify("CCFRIDGE:6101030203:F1") == FridgeLabel("6101030203", "F1")
    scan = classify(GOOD_ID)
    assert isinstance(scan, IdCardScan)
    assert scan.id_number.birth_date == date(1949, 12, 31)
    assert scan.id_number.sex == "F"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80) | st.text(max_size=80).map(str.encode))
def test_classify_never_raises_anything_else(raw: bytes) -> None:
    with contextlib.suppress(LedgerError):
        classify(raw)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_id_with_computed_check_digit_parses_when_date_valid(first17: str) -> None:
    number = first17 + check_digit(first17)
    reasons = []
    try:
        parsed = parse_id_number(number)
    except IdNumberError as error:
        reasons.append(error.reason)
    else:
        assert parsed.number == number
    assert all("date" in reason or "1900" in reason for reason in reasons)
    wrong = "0" if number[-1] != "0" else "1"
    with pytest.raises(IdNumberError, match="check digit"):
        parse_id_number(number[:17] + wrong)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_id_parser_only_raises_ledger_errors(text: str) -> None:
    with contextlib.suppress(LedgerError):
        parse_id_number(text)


def test_placeholder_and_masks() -> None:
    with pytest.raises(IdNumberError, match="placeholder"):
        parse_id_number(PLACEHOLDER)
    assert mask_id_number(GOOD_ID) == "1101************2X"
    assert mask_name("张三") == "张*"
    assert mask_phone("13812345678") == "138****5678"


def test_every_reference_bad_batch_value_is_refused() -> None:
    with (REFERENCE / "bad_batch_values.csv").open(encoding="utf-8") as handle:
        values = [row["value"] for row in csv.DictReader(handle)]
    assert len(values) == 11
    for value in values:
        with pytest.raises(BatchFieldError) as caught:
            check_batch(value)
        assert caught.value.field == "batch_no"


@pytest.mark.parametrize(
    "value",
    ["81900670270577219999", GOOD_ID, "NULL", "None", "未知", "王小明", "22222", "12",
     "123456", "\x1d10ABC", "A B C 1", "aaaa"],
)  # fmt: skip
def test_same_kinds_refused(value: str) -> None:
    assert not is_plausible_batch(value)


@pytest.mark.parametrize("value", ["202512A01", "C20260104", "J202103015", "2021-0301"])
def test_real_batches_pass(value: str) -> None:
    assert check_batch(f" {value} ") == value


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_batch_check_only_raises_batch_errors(value: str) -> None:
    with contextlib.suppress(BatchFieldError):
        check_batch(value)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="0123456789", min_size=20, max_size=20))
def test_any_trace_code_is_refused_as_batch(value: str) -> None:
    with pytest.raises(BatchFieldError):
        check_batch(value)
