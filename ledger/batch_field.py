"""Is this value plausibly a batch number (批号)? Pure.

Seed 000 lists what landed in the batch field of uploaded records: trace codes, ``null``,
names, ``1``, ``123``, ``11111111``, ``不详``, empty. We refuse those and every value of the
same kinds: long digit runs (trace codes, ID numbers), placeholder words, values without a
digit (names, words), one repeated character, sequential digits, too short or too long, and
characters a printed batch number never has (Han characters, spaces, control characters from a
raw scan). Batch numbers are letters, digits and ``-`` ``.`` ``/``, 4 to 20 characters (GS1
AI 10 allows 20).
"""

from __future__ import annotations

import re

from ledger.errors import BatchFieldError

MIN_LENGTH = 4
MAX_LENGTH = 20
_ALLOWED = re.compile(r"[A-Za-z0-9./-]+")
_PLACEHOLDERS = frozenset(
    {
        "null", "none", "nil", "nan", "na", "n/a", "undefined", "unknown", "empty", "test",
        "不详", "未知", "无", "空", "暂无", "没有", "不知道", "待定", "其他", "-", "--", "/", ".",
        "0", "00", "000", "0000", "x", "xx", "xxx", "xxxx", "?", "？",
    }
)  # fmt: skip
_ASCENDING = "0123456789012345678901"
_DESCENDING = "9876543210987654321098"


def check_batch(value: str, *, field: str = "batch_no") -> str:
    """Return the batch number, stripped; raise BatchFieldError naming the kind of bad value."""
    if any(not char.isprintable() and char != " " for char in value):
        raise BatchFieldError(field, "holds control characters: a raw scan, not a batch number")
    text = value.strip()
    if not text:
        raise BatchFieldError(field, "empty")
    if text.casefold() in _PLACEHOLDERS:
        raise BatchFieldError(field, f"{text!r} is a placeholder, not a batch number")
    if text.isascii() and text.isdigit() and len(text) >= 16:
        kind = "a trace code" if len(text) == 20 else "a long code (trace code or ID number)"
        raise BatchFieldError(field, f"{len(text)} digits look like {kind}, not a batch number")
    if re.fullmatch(r"[0-9]{17}[0-9Xx]", text):
        raise BatchFieldError(field, "looks like an ID number, not a batch number")
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
    if len(set(text.casefold())) == 1:
        raise BatchFieldError(field, "one repeated character")
    if text.isdigit() and (text in _ASCENDING or text in _DESCENDING):
        raise BatchFieldError(field, "sequential digits are a placeholder, not a batch number")
    return text


def is_plausible_batch(value: str) -> bool:
    try:
        check_batch(value)
    except BatchFieldError:
        return False
    return True
