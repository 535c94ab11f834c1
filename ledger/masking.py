"""Masks for personal data shown to users without the right to see it. Pure.

DESIGN principle 9: names, ID numbers, phones and addresses appear in full only for the roles
that need them (`Action.VIEW_PERSONAL_DATA`); everyone else sees them masked, the names of a
recipient's parents and guardian like the recipient's. A mask keeps the
length of the value, so a masked table still lines up. Name and ID number follow the rules of
`ledger.idcard` (张小三 → 张*三, 1101************2X); the placeholder of eighteen 8s says "no ID
number" and is no personal data, so it stays as it is. A phone hides at least 4 digits whatever
its length (138****5678, ****4321). An address keeps its region (at most the first 6
characters, never more than half of it).

Free text (a scan's raw bytes, a refusal's reason, an audit entry, a log line) has no fields:
`mask_text` and `mask_raw` find what looks like a resident ID number (18 characters whose
birth date part is a date from 1900 on, check digit right or not) or a mainland mobile number
standing alone, and mask it in place. `Shown` is what one reader may see; the web edge makes
one per request from the reader's role (`gateway.auth.policy.shown_to`), and every serialiser of
personal data goes through it. `PersonalDataFormatter` masks every log line the same way.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ledger.idcard import is_placeholder, mask_id_number, mask_name

if TYPE_CHECKING:  # the records' module only where records exist: every log line is masked here
    from ledger.vaccination_records import DoseRecord, Recipient

ADDRESS_KEEP = 6
MIN_PHONE, MOBILE = 7, 11
AIM_LENGTH = 3  # ]Q1: a scanner's symbology identifier before the data

_DATE = rb"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_ID_IN_TEXT = re.compile(rb"(?<![0-9A-Za-z])[0-9]{6}" + _DATE + rb"[0-9]{3}[0-9Xx](?![0-9A-Za-z])")
_MOBILE_IN_TEXT = re.compile(rb"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")

__all__ = [
    "FULL",
    "MASKED",
    "PersonalDataFormatter",
    "Shown",
    "mask_address",
    "mask_id",
    "mask_name",
    "mask_phone",
    "mask_raw",
    "mask_text",
    "masked_recipient",
    "masked_record",
]


def mask_address(value: str) -> str:
    """陕西省西安市新城区西一路1号 → 陕西省西安市********: the region stays, the rest goes."""
    keep = min(ADDRESS_KEEP, len(value) // 2)
    return value[:keep] + "*" * (len(value) - keep)


def mask_phone(value: str) -> str:
    """A mobile number keeps its first 3 and last 4 digits; a shorter number (a landline
    without area code) keeps at most its last 4 and hides at least 4 or half of it; a number
    shorter than 7 characters is hidden whole."""
    length = len(value)
    if length < MIN_PHONE:
        return "*" * length
    if length >= MOBILE:
        return value[:3] + "*" * (length - 7) + value[-4:]
    tail = min(4, length - max(4, (length + 1) // 2))
    return "*" * (length - tail) + value[length - tail :]


def mask_id(value: str) -> str:
    return value if is_placeholder(value) else mask_id_number(value)


def masked_recipient(person: Recipient) -> Recipient:
    return replace(
        person,
        name=mask_name(person.name),
        id_number=mask_id(person.id_number),
        phone=mask_phone(person.phone),
        address=mask_address(person.address),
        father_name=mask_name(person.father_name),
        mother_name=mask_name(person.mother_name),
        guardian_name=mask_name(person.guardian_name),
    )


def masked_record(record: DoseRecord) -> DoseRecord:
    return replace(record, recipient=masked_recipient(record.recipient))


def _masked_match(found: re.Match[bytes]) -> bytes:
    value = found.group().decode("ascii")
    masked = mask_phone(value) if len(value) == MOBILE else mask_id_number(value)
    return masked.encode("ascii")


def mask_raw(raw: bytes) -> bytes:
    """The bytes with every ID number and mobile number in them masked; the rest exactly kept
    (a masked scan keeps its length, its GS separators and its AIM identifier)."""
    aim = raw[:AIM_LENGTH] if raw.startswith(b"]") else b""
    rest = raw[len(aim) :]
    masked: bytes = _MOBILE_IN_TEXT.sub(_masked_match, _ID_IN_TEXT.sub(_masked_match, rest))
    return aim + masked


def mask_text(text: str) -> str:
    """The text with every ID number and mobile number in it masked."""
    raw = text.encode("utf-8", "surrogatepass")
    masked = mask_raw(raw)
    return text if masked == raw else masked.decode("utf-8", "surrogatepass")


@dataclass(frozen=True, slots=True)
class Shown:
    """What one reader may see of personal data: everything, or everything masked."""

    full: bool

    def recipient(self, person: Recipient) -> Recipient:
        return person if self.full else masked_recipient(person)

    def record(self, record: DoseRecord) -> DoseRecord:
        return record if self.full else masked_record(record)

    def id_number(self, value: str) -> str:
        return value if self.full else mask_id(value)

    def text(self, value: str) -> str:
        return value if self.full else mask_text(value)

    def optional_text(self, value: str | None) -> str | None:
        return value if value is None or self.full else mask_text(value)

    def raw(self, value: bytes) -> bytes:
        return value if self.full else mask_raw(value)


FULL = Shown(full=True)
MASKED = Shown(full=False)


class PersonalDataFormatter(logging.Formatter):
    """Masks ID numbers and mobile numbers in every formatted log line, traceback included
    (nobody reading the log has the right to see them)."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))
