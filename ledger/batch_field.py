"""Is this value plausibly a batch number (批号)? Pure.

Seed 000 lists what landed in the batch field of uploaded records: trace codes, ``null``,
names, ``1``, ``123``, ``11111111``, ``不详``, empty. We refuse those and every value of the
same kinds, whatever their spelling: values that are another field's (a trace code, an ID
number of 15 or 18 characters, a mobile number, a GTIN or product barcode, a date, a fridge
label or any value with ``:``, a name in Han characters or in pinyin), placeholder words in any
case and with any padding, one repeated character, sequential digits, too short or too long,
and characters a printed batch number never has (spaces, control characters from a raw scan).
The caller may also pass the values of the record's other fields (`others`): a batch equal to
one of them was typed into the wrong field. Batch numbers are letters, digits and ``-`` ``.``
``/``, 4 to 20 characters (GS1 AI 10 allows 20), at most 12 of them when all are digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ledger.errors import BatchFieldError

MIN_LENGTH = 4
MAX_LENGTH = 20
MAX_DIGITS_ONLY = 12  # 13+ digits: an EAN-13/GTIN-14, an ID number or a trace code
_ALLOWED = re.compile(r"[A-Za-z0-9./-]+")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_DATE = re.compile(r"(?:19|20)[0-9]{2}([-./])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12][0-9]|3[01])")
_ID_15 = re.compile(r"[1-8][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}")
_ID_18 = re.compile(r"[1-8][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
                    r"[0-9]{3}[0-9Xx]")  # fmt: skip
_PLACEHOLDERS = frozenset(
    {
        "null", "none", "nil", "nan", "na", "n/a", "undefined", "unknown", "empty", "test",
        "default", "tbd", "todo", "batch", "lot", "pihao", "wu", "buxiang", "weizhi",
        "不详", "未知", "无", "空", "暂无", "没有", "不知道", "待定", "其他", "批号", "见盒",
        "-", "--", "/", ".", "0", "00", "000", "0000", "x", "xx", "xxx", "xxxx", "?", "？",
    }
)  # fmt: skip
_ASCENDING = "01234567890123456789012"
_DESCENDING = "98765432109876543210987"


def check_batch(
    value: str, *, field: str = "batch_no", others: Mapping[str, str] | None = None
) -> str:
    """Return the batch number, stripped; raise BatchFieldError naming the kind of bad value.

    `others` maps the record's other fields to their values (``{"id_number": ...}``): a batch
    equal to one of them is refused naming that field."""
    if any(not char.isprintable() and char != " " for char in value):
        raise BatchFieldError(field, "holds control characters: a raw scan, not a batch number")
    text = value.strip()
    if not text:
        raise BatchFieldError(field, "empty")
    _refuse_values_of_the_record(text, field, others or {})
    folded = text.casefold()
    if folded in _PLACEHOLDERS or folded.strip("-./?？ ") in _PLACEHOLDERS:
        raise BatchFieldError(field, f"{text!r} is a placeholder, not a batch number")
    _refuse_other_identifiers(text, field)
    if any("\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" for char in text):
        raise BatchFieldError(field, "holds Chinese characters (a name or a word?)")
    if not _ALLOWED.fullmatch(text):
        raise BatchFieldError(field, "only letters, digits and - . / belong in a batch number")
    if not any(char.isdigit() for char in text):
        raise BatchFieldError(field, "has no digit: a name or a word, not a batch number")
    if len(text) < MIN_LENGTH:
        raise BatchFieldError(field, f"too short ({len(text)} characters, at least {MIN_LENGTH})")
    if len(text) > MAX_LENGTH:
        raise BatchFieldError(field, f"too long ({len(text)} characters, at most {MAX_LENGTH})")
    if len(set(folded)) == 1:
        raise BatchFieldError(field, "one repeated character")
    if len(set(re.sub(r"[^0-9a-z]", "", folded))) == 1:
        raise BatchFieldError(field, "one repeated character between separators")
    if text.isdigit() and (text in _ASCENDING or text in _DESCENDING):
        raise BatchFieldError(field, "sequential digits are a placeholder, not a batch number")
    return text


def _refuse_values_of_the_record(text: str, field: str, others: Mapping[str, str]) -> None:
    for name, other in others.items():
        if other.strip() and text.casefold() == other.strip().casefold():
            raise BatchFieldError(field, f"is the {name} of this record, not a batch number")


def _refuse_other_identifiers(text: str, field: str) -> None:
    """Values that have the shape of another field's value."""
    digits = text.replace(" ", "").replace("-", "")
    if _ID_18.fullmatch(text) or _ID_15.fullmatch(text):
        raise BatchFieldError(field, "looks like an ID number, not a batch number")
    if digits.isascii() and digits.isdigit():
        if len(digits) == 20:
            raise BatchFieldError(field, "20 digits look like a trace code, not a batch number")
        if _MOBILE.fullmatch(digits):
            raise BatchFieldError(field, "looks like a mobile number, not a batch number")
        if len(digits) > MAX_DIGITS_ONLY:
            raise BatchFieldError(
                field,
                f"{len(digits)} digits look like a barcode, ID number or trace code, not a"
                f" batch number (at most {MAX_DIGITS_ONLY} when all are digits)",
            )
    if _DATE.fullmatch(text):
        raise BatchFieldError(field, "is a date (the expiry?), not a batch number")
    if ":" in text or text.upper().startswith("CCFRIDGE"):
        raise BatchFieldError(field, "a fridge label or a scan, not a batch number")
    if text.isascii() and text.isalpha():
        raise BatchFieldError(field, "has no digit: a name or a word, not a batch number")


def is_plausible_batch(value: str) -> bool:
    try:
        check_batch(value)
    except BatchFieldError:
        return False
    return True
