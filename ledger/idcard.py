"""Resident ID numbers (GB 11643-1999): check digit, birth date and sex; masking for logs.

Pure functions. The placeholder of eighteen 8s stands for "number not available" in
vaccination records (seed 000); it is not a valid number and `parse_id_number` refuses it, so
callers decide where the placeholder is acceptable (`is_placeholder`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from ledger.errors import IdNumberError

PLACEHOLDER = "8" * 18
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


@dataclass(frozen=True, slots=True)
class IdNumber:
    number: str
    region: str
    birth_date: date
    sex: Literal["M", "F"]


def check_digit(first17: str) -> str:
    """The GB 11643 check character (ISO 7064 MOD 11-2) for 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise IdNumberError("id_number", "the check digit needs exactly 17 digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def is_placeholder(value: str) -> bool:
    return value == PLACEHOLDER


def parse_id_number(value: str, *, field: str = "id_number") -> IdNumber:
    """Validate an 18-character ID number; a lower-case x is accepted as X."""
    number = value.strip().upper()
    if not number:
        raise IdNumberError(field, "empty")
    if is_placeholder(number):
        raise IdNumberError(field, "the placeholder of eighteen 8s is not an ID number")
    if len(number) != 18:
        raise IdNumberError(field, f"must have 18 characters, has {len(number)}")
    if not _SHAPE.fullmatch(number):
        raise IdNumberError(field, "must be 17 digits followed by a digit or X")
    expected = check_digit(number[:17])
    if number[17] != expected:
        raise IdNumberError(field, f"wrong check digit {number[17]} (expected {expected})")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdNumberError(field, f"birth date {number[6:14]} is not a date") from None
    if born.year < 1900:
        raise IdNumberError(field, f"birth year {born.year} is before 1900")
    sex: Literal["M", "F"] = "M" if int(number[16]) % 2 else "F"
    return IdNumber(number=number, region=number[:6], birth_date=born, sex=sex)


def mask_id_number(value: str) -> str:
    """For logs and exports: keep the first 4 and the last 2 characters (DESIGN principle 9)."""
    if len(value) <= 6:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 6) + value[-2:]


def mask_name(value: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧**娜."""
    if len(value) <= 1:
        return "*" * len(value)
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def mask_phone(value: str) -> str:
    """13812345678 -> 138****5678."""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
