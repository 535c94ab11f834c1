"""Vaccination ledger: recipients and dose records, validated, versioned, queued for upload.

Nothing is overwritten: a correction is a new version with record status 01, a deletion a new
version with status 02 (seed 000); each new version is queued for upload in the same
transaction. Every version of a recipient or a record names its actor, who entered it (the
signed-in user); the vaccinator is a field of the dose, uploaded, the actor is not. A dose is
recorded together with the stock ledger's administer event of the scanned package, in one
transaction: either both happen or neither.

Validation collects every problem (field, reason) and refuses the whole record: code tables
(`tables`), manufacturer ↔ vaccine, dose number within the schedule and in sequence, age fit,
ID number check digit (or the placeholder of eighteen 8s) agreeing with birth date and sex.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Any

from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import Clock
from gateway.storage.ledger.catalogue import Resolved
from gateway.storage.ledger.db import LedgerDB, from_ms, to_ms
from gateway.storage.ledger.stock import StockLedger
from ledger.batch_field import check_batch
from ledger.errors import BatchFieldError, IdNumberError, LedgerError, RecordError
from ledger.idcard import is_placeholder, parse_id_number
from ledger.tables import ReferenceTables

NORMAL, DELETED = "01", "02"
SEXES = {"1": "男", "2": "女"}  # GB/T 2261.1
_UNIT = re.compile(r"[0-9]{10}")
_PHONE = re.compile(r"[0-9+-]{7,20}")
_CORRECTABLE = frozenset(
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


class VaccinationLedger:
    def __init__(
        self, db: LedgerDB, stock: StockLedger, tables: ReferenceTables, clock: Clock
    ) -> None:
        self.db = db
        self.stock = stock
        self.tables = tables
        self.clock = clock

    # -- recipients ------------------------------------------------------------------------

    def register(self, recipient: Recipient, *, actor: str) -> Recipient:
        """A new recipient, or a new version of a registered one, entered by `actor`."""
        problems = recipient_problems(recipient, self.tables, self.clock.now())
        problems += _actor_problems(actor)
        if problems:
            raise RecordError.many(problems)
        body = json.dumps(asdict(recipient), default=str, ensure_ascii=False)
        with self.db.transaction("register recipient") as conn:
            row = conn.execute(
                "SELECT MAX(version) FROM recipients WHERE archive_no = ?",
                (recipient.archive_no,),
            ).fetchone()
            version = (row[0] or 0) + 1
            conn.execute(
                "INSERT INTO recipients (archive_no, version, body, at_ms, actor)"
                " VALUES (?, ?, ?, ?, ?)",
                (recipient.archive_no, version, body, to_ms(self.clock.now()), actor),
            )
        return recipient

    def recipient_versions(self, archive_no: str) -> list[RecipientVersion]:
        """Every version of a recipient, oldest first (empty for an unknown archive number)."""
        with self.db.translated("read recipient versions"):
            rows = self.db.conn.execute(
                "SELECT body, version, actor, at_ms FROM recipients WHERE archive_no = ?"
                " ORDER BY version",
                (archive_no,),
            ).fetchall()
        return [
            RecipientVersion(_recipient(json.loads(body)), version, actor or None, from_ms(at))
            for body, version, actor, at in rows
        ]

    def recipient(self, archive_no: str) -> Recipient:
        with self.db.translated("read recipient"):
            row = self.db.conn.execute(
                "SELECT body FROM recipients WHERE archive_no = ? ORDER BY version DESC LIMIT 1",
                (archive_no,),
            ).fetchone()
        if row is None:
            raise RecordError("archive_no", f"{archive_no} is not a registered recipient")
        return _recipient(json.loads(row[0]))

    # -- doses -----------------------------------------------------------------------------

    def record_dose(
        self, *, archive_no: str, scan: bytes | str, event_id: str, dose_no: int,
        manufacturer_code: str, site_code: str, vaccinator: str, vaccination_type: str,
        vaccine_attribute: str, unit_code: str, actor: str,
    ) -> DoseRecord:  # fmt: skip
        """扫码接种: validate, administer the scanned package and store version 1, atomically.

        `actor` entered the dose (the scan's stock event names them too); `vaccinator` gave it.
        """
        _require_actor(actor)
        recipient = self.recipient(archive_no)
        item = self.stock.resolve_scan(scan)
        record = DoseRecord(
            record_id=event_id, version=1, status=NORMAL, recipient=recipient,
            vaccine_code=item.product.vaccine_code, manufacturer_code=manufacturer_code,
            batch_no=item.batch.batch_no, trace_code=item.code, dose_no=dose_no,
            vaccinated_at=self.clock.now(), site_code=site_code, vaccinator=vaccinator,
            vaccination_type=vaccination_type, vaccine_attribute=vaccine_attribute,
            unit_code=unit_code,
        )  # fmt: skip
        with self.db.transaction("record dose"):
            existing = self._latest(event_id)
            if existing is not None:
                return existing  # the same scan event again: one effect
            self._validate(record, item)
            self.stock.administer_in_transaction(item, event_id=event_id, actor=actor)
            self._append(record, reason="recorded", actor=actor)
        return record

    def correct(self, record_id: str, *, reason: str, actor: str, **changes: Any) -> DoseRecord:
        """A new version with status 01, entered by `actor`; the old version stays as it was."""
        unknown = sorted(set(changes) - _CORRECTABLE)
        if unknown:
            raise RecordError(unknown[0], "cannot be corrected here (vaccine, batch and trace"
                              " code come from the scan; delete and record again)")  # fmt: skip
        if not reason.strip():
            raise RecordError("reason", "empty: a correction needs a reason")
        _require_actor(actor)
        with self.db.transaction("correct dose"):
            old = self._require(record_id)
            person = {k: v for k, v in changes.items() if k in Recipient.__dataclass_fields__}
            dose = {k: v for k, v in changes.items() if k not in person}
            record = replace(
                old, version=old.version + 1, status=NORMAL,
                recipient=replace(old.recipient, **person), **dose,
            )  # fmt: skip
            problems = recipient_problems(record.recipient, self.tables, self.clock.now())
            problems += self._dose_problems(record)
            if problems:
                raise RecordError.many(problems)
            self._append(record, reason=reason, actor=actor)
        return record

    def delete(self, record_id: str, *, reason: str, actor: str) -> DoseRecord:
        """A new version with status 02, entered by `actor`."""
        if not reason.strip():
            raise RecordError("reason", "empty: a deletion needs a reason")
        _require_actor(actor)
        with self.db.transaction("delete dose"):
            old = self._require(record_id)
            record = replace(old, version=old.version + 1, status=DELETED)
            self._append(record, reason=reason, actor=actor)
        return record

    def history(self, record_id: str) -> list[DoseRecord]:
        return [version.record for version in self.versions(record_id)]

    def versions(self, record_id: str) -> list[RecordVersion]:
        """Every version of one record with its actor and reason, oldest first."""
        with self.db.translated("read record"):
            rows = self.db.conn.execute(
                "SELECT body, actor, reason, at_ms FROM record_versions WHERE record_id = ?"
                " ORDER BY version",
                (record_id,),
            ).fetchall()
        return [
            RecordVersion(record_from_json(body), actor or None, reason, from_ms(at))
            for body, actor, reason, at in rows
        ]

    def current_records(self) -> list[DoseRecord]:
        """The latest version of every record (deleted ones included, status 02)."""
        with self.db.translated("read records"):
            rows = self.db.conn.execute(
                "SELECT body FROM record_versions v WHERE version = (SELECT MAX(version) FROM"
                " record_versions w WHERE w.record_id = v.record_id) ORDER BY vaccinated_ms"
            ).fetchall()
        return [record_from_json(row[0]) for row in rows]

    # -- internals -------------------------------------------------------------------------

    def _latest(self, record_id: str) -> DoseRecord | None:
        history = self.history(record_id)
        return history[-1] if history else None

    def _require(self, record_id: str) -> DoseRecord:
        old = self._latest(record_id)
        if old is None:
            raise RecordError("record_id", f"{record_id} is not a recorded dose")
        if old.status == DELETED:
            raise RecordError("record_id", f"{record_id} was deleted")
        return old

    def _validate(self, record: DoseRecord, item: Resolved) -> None:
        problems = self._dose_problems(record)
        if item.product.manufacturer_code != record.manufacturer_code:
            problems.append(("manufacturer_code", f"the scanned package is made by "
                             f"{item.product.manufacturer_code}"))  # fmt: skip
        if problems:
            raise RecordError.many(problems)

    def _dose_problems(self, record: DoseRecord) -> list[tuple[str, str]]:
        problems = dose_problems(record, self.tables)
        vaccine = self.tables.vaccines.get(record.vaccine_code)
        if vaccine is not None and 1 <= record.dose_no <= vaccine.doses:
            given = self.db.conn.execute(
                "SELECT v.record_id, v.dose_no FROM record_versions v WHERE archive_no = ? AND"
                " vaccine_code = ? AND version = (SELECT MAX(version) FROM record_versions w"
                " WHERE w.record_id = v.record_id) AND status = '01'",
                (record.recipient.archive_no, record.vaccine_code),
            ).fetchall()
            doses = sorted(n for rid, n in given if rid != record.record_id)
            if record.dose_no in doses:
                problems.append(("dose_no", f"dose {record.dose_no} was already given"))
            elif doses != list(range(1, record.dose_no)) and record.dose_no > len(doses):
                problems.append(("dose_no", f"dose {record.dose_no} out of sequence: doses "
                                 f"given so far {doses or 'none'}"))  # fmt: skip
        return problems

    def _append(self, record: DoseRecord, *, reason: str, actor: str) -> None:
        now_ms = to_ms(self.clock.now())
        self.db.conn.execute(
            "INSERT INTO record_versions (record_id, version, status, archive_no, vaccine_code,"
            " dose_no, vaccinated_ms, body, reason, at_ms, actor)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.record_id, record.version, record.status, record.recipient.archive_no,
             record.vaccine_code, record.dose_no, to_ms(record.vaccinated_at),
             record_to_json(record), reason, now_ms, actor),
        )  # fmt: skip
        self.db.conn.execute(
            "INSERT INTO upload_queue (record_id, version, vaccinated_ms, enqueued_ms, state,"
            " attempts) VALUES (?, ?, ?, ?, 'pending', 0)",
            (record.record_id, record.version, to_ms(record.vaccinated_at), now_ms),
        )


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


def _actor_problems(actor: str) -> list[tuple[str, str]]:
    if actor.strip():
        return []
    return [("actor", "empty: name the user who enters this version")]


def _require_actor(actor: str) -> None:
    problems = _actor_problems(actor)
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
        check_batch(record.batch_no)
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


def _age_months(born: date, at: datetime) -> int:
    day = at.astimezone(CLINIC_TZ).date()
    months = (day.year - born.year) * 12 + day.month - born.month
    return months - (1 if day.day < born.day else 0)


def record_to_json(record: DoseRecord) -> str:
    return json.dumps(asdict(record), default=str, ensure_ascii=False)


def record_from_json(text: str) -> DoseRecord:
    data = json.loads(text)
    try:
        data["recipient"] = _recipient(data["recipient"])
        data["vaccinated_at"] = datetime.fromisoformat(data["vaccinated_at"])
        return DoseRecord(**data)
    except (KeyError, TypeError, ValueError) as error:
        raise LedgerError("record", f"stored record unreadable: {error}") from None


def _recipient(data: dict[str, Any]) -> Recipient:
    data = dict(data)
    data["birth_date"] = date.fromisoformat(data["birth_date"])
    return Recipient(**data)
