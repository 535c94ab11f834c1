"""Masks for personal data shown to users without the right to see it. Pure.

DESIGN principle 9: names, ID numbers, phones and addresses appear in full only for the roles
that need them (`Action.VIEW_PERSONAL_DATA`); everyone else sees them masked. A mask keeps the
length of the value, so a masked table still lines up. Name and ID number follow the rules of
`ledger.idcard` (张小三 → 张*三, 1101************2X); the placeholder of eighteen 8s says "no ID
number" and is no personal data, so it stays as it is. A phone hides at least 4 digits whatever
its length (138****5678, ****4321). An address keeps its region (at most the first 6
characters, never more than half of it).
"""

from __future__ import annotations

from dataclasses import replace

from gateway.storage.ledger.vaccinations import DoseRecord, Recipient
from ledger.idcard import is_placeholder, mask_id_number, mask_name

ADDRESS_KEEP = 6
MIN_PHONE, MOBILE = 7, 11

__all__ = [
    "mask_address",
    "mask_id",
    "mask_name",
    "mask_phone",
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
    )


def masked_record(record: DoseRecord) -> DoseRecord:
    return replace(record, recipient=masked_recipient(record.recipient))
