"""Vaccination records as the ledger keeps them: recipients and dose records, their checks and
their stored JSON form.

Validation collects every problem (field, reason) and refuses the whole record: code tables
(`tables`), manufacturer ↔ vaccine, dose number within the schedule and in sequence, age fit,
ID number check digit (or the placeholder of eighteen 8s) agreeing with birth date and sex.
The versioned ledger that stores them is `gateway.storage.ledger.vaccinations`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from gateway.core.clinic_time import CLINIC_TZ
from ledger.batch_field import check_batch
from ledger.errors import BatchFieldError, IdNumberError, LedgerError, RecordError
from ledger.idcard import is_placeholder, parse_id_number
from ledger.tables import ReferenceTables

NORMAL, DELETED = "01", "02"
SEXES = {"1": "男", "2": "女"}  # GB/T 2261.1
_UNIT = re.compile(r"[0-9]{10}")
_PHONE = re.compile(r"[0-9+-]{7,20}")
CORRECTABLE = frozenset(
    {"manufacturer_code", "dose_no", "site_code", "vaccinator", "vaccination_type",
     "vaccine_attribute", "name", "sex", "birth_date", "id_number", "phone", "address",
     "crowd_category"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Recipient:
    archive_no: str
    name: str
    sex: str  # "1" male, "2" female
    birth_date: date
    id_number: str  # 18 characters, or eighteen 8s when unknown
    phone: str
    address: str
    crowd_category: str


@dataclass(frozen=True, slots=True)
class DoseRecord:
    """One version of one dose (接种个案), with the recipient as it was at that version."""

    record_id: str
    version: int
    status: str
    recipient: Recipient
    vaccine_code: str
    manufacturer_code: str
    batch_no: str
    trace_code: str
    dose_no: int
    vaccinated_at: datetime
    site_code: str
    vaccinator: str
    vaccination_type: str
    vaccine_attribute: str
    unit_code: str


@dataclass(frozen=True, slots=True)
class RecipientVersion:
    """One stored version of a recipient and who entered it."""

    recipient: Recipient
    version: int
    actor: str | None  # None: entered before the ledger recorded actors
    entered_at: datetime


@dataclass(frozen=True, slots=True)
class RecordVersion:
    """One stored version of a dose record, who entered it and why."""

    record: DoseRecord
    actor: str | None  # None: entered before the ledger recorded actors
    reason: str
    entered_at: datetime


def recipient_problems(
    person: Recipient, tables: ReferenceTables, now: datetime
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not person.archive_no.strip():
        problems.append(("archive_no", "empty"))
    if not person.name.strip():
        problems.append(("name", "empty"))
    if person.sex not in SEXES:
        problems.append(("sex", f"{person.sex!r} is not 1 (男) or 2 (女)"))
    today = now.astimezone(CLINIC_TZ).date()
    if not date(1900, 1, 1) <= person.birth_date <= today:
        problems.append(("birth_date", f"{person.birth_date} is out of range"))
    problems += _id_problems(person)
    if person.phone and not _PHONE.fullmatch(person.phone):
        problems.append(("phone", "digits only (7 to 20)"))
    if not person.address.strip():
        problems.append(("address", "empty"))
    if not person.crowd_category:
        problems.append(("crowd_category", "empty"))
    elif person.crowd_category not in tables.crowd_categories:
        problems.append(("crowd_category", f"{person.crowd_category!r} is not in the code table"))
    return problems


def actor_problems(actor: str) -> list[tuple[str, str]]:
    if actor.strip():
        return []
    return [("actor", "empty: name the user who enters this version")]


def require_actor(actor: str) -> None:
    problems = actor_problems(actor)
    if problems:
        raise RecordError.many(problems)


def _id_problems(person: Recipient) -> list[tuple[str, str]]:
    """The ID number (or the placeholder) and its agreement with birth date and sex."""
    if is_placeholder(person.id_number):
        return []
    try:
        parsed = parse_id_number(person.id_number)
    except IdNumberError as error:
        return [(error.field, error.reason)]
    problems = []
    if parsed.birth_date != person.birth_date:
        problems.append(("birth_date", f"differs from the ID number's {parsed.birth_date}"))
    if {"M": "1", "F": "2"}[parsed.sex] != person.sex:
        problems.append(("sex", "differs from the ID number"))
    return problems


def dose_problems(record: DoseRecord, tables: ReferenceTables) -> list[tuple[str, str]]:
    """Checks that need no database: code tables, schedule length, age fit, batch field."""
    problems: list[tuple[str, str]] = []
    vaccine = tables.vaccines.get(record.vaccine_code)
    if vaccine is None:
        problems.append(("vaccine_code", f"{record.vaccine_code!r} is not in the vaccine table"))
    else:
        if record.manufacturer_code not in vaccine.manufacturers:
            maker = record.manufacturer_code
            problems.append(("manufacturer_code", f"{maker!r} does not make {vaccine.name}"))
        if not 1 <= record.dose_no <= vaccine.doses:
            problems.append(("dose_no", f"dose {record.dose_no} of a {vaccine.doses}-dose "
                             f"schedule ({vaccine.name})"))  # fmt: skip
        months = _age_months(record.recipient.birth_date, record.vaccinated_at)
        if months < vaccine.min_age_months or (
            vaccine.max_age_months is not None and months > vaccine.max_age_months
        ):
            top = vaccine.max_age_months if vaccine.max_age_months is not None else "no limit"
            problems.append(("birth_date", f"age {months} months does not fit {vaccine.name} "
                             f"({vaccine.min_age_months} to {top} months)"))  # fmt: skip
    try:
        check_batch(record.batch_no, others=_other_fields(record))
    except BatchFieldError as error:
        problems.append((error.field, error.reason))
    checks = (
        ("site_code", record.site_code, tables.sites),
        ("vaccination_type", record.vaccination_type, tables.vaccination_types),
        ("vaccine_attribute", record.vaccine_attribute, tables.vaccine_attributes),
    )
    for name, value, table in checks:
        if not value:
            problems.append((name, "empty"))
        elif value not in table:
            problems.append((name, f"{value!r} is not in the code table"))
    if not record.vaccinator.strip():
        problems.append(("vaccinator", "empty: the vaccinator's name is required"))
    if not _UNIT.fullmatch(record.unit_code):
        problems.append(("unit_code", "must be the 10-digit unit code"))
    return problems


def _other_fields(record: DoseRecord) -> dict[str, str]:
    """Values of the record's other fields a batch number must not be."""
    person = record.recipient
    return {"id_number": person.id_number, "phone": person.phone, "name": person.name,
            "trace_code": record.trace_code, "unit_code": record.unit_code,
            "archive_no": person.archive_no}  # fmt: skip


def _age_months(born: date, at: datetime) -> int:
    day = at.astimezone(CLINIC_TZ).date()
    months = (day.year - born.year) * 12 + day.month - born.month
    return months - (1 if day.day < born.day else 0)


def record_to_json(record: DoseRecord) -> str:
    return json.dumps(asdict(record), default=str, ensure_ascii=False)


def record_from_json(text: str) -> DoseRecord:
    data = json.loads(text)
    try:
        data["recipient"] = recipient_from_dict(data["recipient"])
        data["vaccinated_at"] = datetime.fromisoformat(data["vaccinated_at"])
        return DoseRecord(**data)
    except (KeyError, TypeError, ValueError) as error:
        raise LedgerError("record", f"stored record unreadable: {error}") from None


def recipient_from_dict(data: dict[str, Any]) -> Recipient:
    data = dict(data)
    data["birth_date"] = date.fromisoformat(data["birth_date"])
    return Recipient(**data)
