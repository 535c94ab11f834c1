"""Vaccination ledger: recipients and dose records, validated, versioned, queued for upload.

Nothing is overwritten: a correction is a new version with record status 01, a deletion a new
version with status 02 (seed 000); each new version is queued for upload in the same
transaction. Every version of a recipient or a record names its actor, who entered it (the
signed-in user); the vaccinator is a field of the dose, uploaded, the actor is not. A dose is
recorded together with the stock ledger's administer event of the scanned package, in one
transaction: either both happen or neither. The records and their checks are
`ledger.vaccination_records`.

A person is one archive: registering looks the person's identity up (the ID number, or name +
birth date + parent/guardian for a person without one) among the latest versions of the other
archives before storing, through the `recipients_identity` index, and refuses a duplicate
naming the archive found (重卡). The ledger stamps the archive's units and times (建档单位 and
起始管理日期 at the first version, 现管理单位, 修改单位 and 修改时间 at each) with this clinic's
unit code and its clock.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import Clock
from gateway.storage.ledger.db import LedgerDB, from_ms, to_ms
from gateway.storage.ledger.stock import StockLedger
from ledger.errors import (
    DoseDeletedError,
    DoseUnknownError,
    DuplicatePersonError,
    FieldNotCorrectableError,
    FieldProblem,
    ProblemCode,
    RecipientUnknownError,
    RecordError,
    RecordFieldEmptyError,
    problem,
)
from ledger.shipments import Resolved
from ledger.tables import ReferenceTables
from ledger.vaccination_records import (
    CORRECTABLE,
    DELETED,
    NORMAL,
    DoseRecord,
    Recipient,
    RecipientVersion,
    RecordVersion,
    actor_problems,
    dose_codes,
    dose_problems,
    recipient_from_dict,
    recipient_problems,
    record_from_json,
    record_to_json,
    require_actor,
    schedule_problems,
    with_codes,
)


class VaccinationLedger:
    def __init__(
        self, db: LedgerDB, stock: StockLedger, tables: ReferenceTables, clock: Clock,
        unit_code: str,
    ) -> None:  # fmt: skip
        self.db = db
        self.stock = stock
        self.tables = tables
        self.clock = clock
        self.unit_code = unit_code

    # -- recipients ------------------------------------------------------------------------

    def register(self, recipient: Recipient, *, actor: str) -> Recipient:
        """A new recipient, or a new version of a registered one, entered by `actor`; the
        version as stored (units and times stamped) is returned."""
        now = self.clock.now()
        recipient = with_codes(recipient, self.tables)
        problems = recipient_problems(recipient, self.tables, now)
        problems += actor_problems(actor)
        if problems:
            raise RecordError.many(problems)
        with self.db.transaction("register recipient") as conn:
            self._refuse_duplicate(recipient)
            row = conn.execute(
                "SELECT MAX(version) FROM recipients WHERE archive_no = ?",
                (recipient.archive_no,),
            ).fetchone()
            version = (row[0] or 0) + 1
            first = self._first_version(recipient.archive_no) if version > 1 else None
            stamped = self._stamped(recipient, first, now)
            body = json.dumps(asdict(stamped), default=str, ensure_ascii=False)
            conn.execute(
                "INSERT INTO recipients (archive_no, version, body, at_ms, actor, identity)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (stamped.archive_no, version, body, to_ms(now), actor, stamped.identity()),
            )
        return stamped

    def find_archive(self, person: Recipient) -> str | None:
        """The archive number of another archive whose latest version is this person."""
        row = self.db.conn.execute(
            "SELECT r.archive_no FROM recipients r WHERE r.identity = ? AND r.archive_no != ?"
            " AND r.version = (SELECT MAX(version) FROM recipients s"
            " WHERE s.archive_no = r.archive_no) LIMIT 1",
            (person.identity(), person.archive_no),
        ).fetchone()
        return None if row is None else str(row[0])

    def _refuse_duplicate(self, person: Recipient) -> None:
        found = self.find_archive(person)
        if found is None:
            return
        field = "id_number" if person.identity().startswith("id:") else "name"
        raise DuplicatePersonError(
            field,
            f"this person has archive {found} already (重卡): record the dose on {found}, or"
            f" correct that archive with PUT /api/ledger/recipients/{found}",
        )

    def _first_version(self, archive_no: str) -> Recipient | None:
        row = self.db.conn.execute(
            "SELECT body FROM recipients WHERE archive_no = ? ORDER BY version LIMIT 1",
            (archive_no,),
        ).fetchone()
        return None if row is None else recipient_from_dict(json.loads(row[0]))

    def _stamped(self, person: Recipient, first: Recipient | None, now: datetime) -> Recipient:
        """建档单位 and 起始管理日期 from the first version (this clinic and today for a new
        archive); 现管理单位, 修改单位 and 修改时间 this clinic now."""
        today = now.astimezone(CLINIC_TZ).date()
        return replace(
            person,
            archive_unit=(first.archive_unit if first else "") or self.unit_code,
            management_start=(first.management_start if first else None) or today,
            management_unit=self.unit_code,
            updated_unit=self.unit_code,
            updated_at=now,
        )

    def recipient_versions(self, archive_no: str) -> list[RecipientVersion]:
        """Every version of a recipient, oldest first (empty for an unknown archive number)."""
        with self.db.translated("read recipient versions"):
            rows = self.db.conn.execute(
                "SELECT body, version, actor, at_ms FROM recipients WHERE archive_no = ?"
                " ORDER BY version",
                (archive_no,),
            ).fetchall()
        return [
            RecipientVersion(
                recipient_from_dict(json.loads(body)), version, actor or None, from_ms(at)
            )
            for body, version, actor, at in rows
        ]

    def recipient(self, archive_no: str) -> Recipient:
        with self.db.translated("read recipient"):
            row = self.db.conn.execute(
                "SELECT body FROM recipients WHERE archive_no = ? ORDER BY version DESC LIMIT 1",
                (archive_no,),
            ).fetchone()
        if row is None:
            raise RecipientUnknownError(
                "archive_no",
                f"{archive_no} is not a registered recipient",
                params={"archive_no": archive_no},
            )
        return recipient_from_dict(json.loads(row[0]))

    # -- doses -----------------------------------------------------------------------------

    def record_dose(
        self, *, archive_no: str, scan: bytes | str, event_id: str, dose_no: int,
        site_code: str, vaccinator: str, vaccination_type: str, vaccine_attribute: str,
        unit_code: str, actor: str, manufacturer_code: str | None = None,
    ) -> DoseRecord:  # fmt: skip
        """扫码接种: validate, administer the scanned package and store version 1, atomically.

        `actor` entered the dose (the scan's stock event names them too); `vaccinator` gave it.
        Vaccine, manufacturer (unless given, then it must agree), batch and trace code come from
        the scan; site, type and attribute may be given by their names.
        """
        require_actor(actor)
        recipient = self.recipient(archive_no)
        item = self.stock.resolve_scan(scan)
        code = self.tables.code_of
        maker = item.product.manufacturer_code if manufacturer_code is None else manufacturer_code
        record = DoseRecord(
            record_id=event_id, version=1, status=NORMAL, recipient=recipient,
            vaccine_code=item.product.vaccine_code,
            manufacturer_code=code("manufacturer_code", maker),
            batch_no=item.batch.batch_no, trace_code=item.code, dose_no=dose_no,
            vaccinated_at=self.clock.now(), site_code=code("site_code", site_code),
            vaccinator=vaccinator,
            vaccination_type=code("vaccination_type", vaccination_type),
            vaccine_attribute=code("vaccine_attribute", vaccine_attribute), unit_code=unit_code,
        )  # fmt: skip
        with self.db.transaction("record dose"):
            existing = self._latest(event_id)
            if existing is not None:
                return existing  # the same scan event again: one effect
            self._validate(record, item)
            self.stock.administer_in_transaction(item, event_id=event_id, actor=actor)
            return self._append(record, reason="recorded", actor=actor)

    def correct(self, record_id: str, *, reason: str, actor: str, **changes: Any) -> DoseRecord:
        """A new version with status 01, entered by `actor`; the old version stays as it was."""
        unknown = sorted(set(changes) - CORRECTABLE)
        if unknown:
            raise FieldNotCorrectableError(unknown[0], "cannot be corrected here (vaccine, batch"
                                           " and trace code come from the scan; delete and"
                                           " record again)")  # fmt: skip
        if not reason.strip():
            raise RecordFieldEmptyError("reason", "empty: a correction needs a reason")
        require_actor(actor)
        with self.db.transaction("correct dose"):
            old = self._require(record_id)
            person = {k: v for k, v in changes.items() if k in Recipient.__dataclass_fields__}
            dose = dose_codes({k: v for k, v in changes.items() if k not in person}, self.tables)
            recipient = with_codes(replace(old.recipient, **person), self.tables)
            record = replace(
                old, version=old.version + 1, status=NORMAL, recipient=recipient, **dose
            )
            problems = recipient_problems(record.recipient, self.tables, self.clock.now())
            problems += self._dose_problems(record)
            if problems:
                raise RecordError.many(problems)
            return self._append(record, reason=reason, actor=actor)

    def delete(self, record_id: str, *, reason: str, actor: str) -> DoseRecord:
        """A new version with status 02, entered by `actor`."""
        if not reason.strip():
            raise RecordFieldEmptyError("reason", "empty: a deletion needs a reason")
        require_actor(actor)
        with self.db.transaction("delete dose"):
            old = self._require(record_id)
            record = replace(old, version=old.version + 1, status=DELETED)
            return self._append(record, reason=reason, actor=actor)

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
            raise DoseUnknownError(
                "record_id", f"{record_id} is not a recorded dose", params={"record_id": record_id}
            )
        if old.status == DELETED:
            raise DoseDeletedError(
                "record_id", f"{record_id} was deleted", params={"record_id": record_id}
            )
        return old

    def _validate(self, record: DoseRecord, item: Resolved) -> None:
        problems = self._dose_problems(record)
        if item.product.manufacturer_code != record.manufacturer_code:
            problems.append(problem("manufacturer_code", f"the scanned package is made by "
                                    f"{item.product.manufacturer_code}",
                                    ProblemCode.PACKAGE_MAKER_MISMATCH,
                                    value=item.product.manufacturer_code))  # fmt: skip
        if problems:
            raise RecordError.many(problems)

    def _dose_problems(self, record: DoseRecord) -> list[FieldProblem]:
        problems = dose_problems(record, self.tables)
        vaccine = self.tables.vaccines.get(record.vaccine_code)
        if vaccine is not None and 1 <= record.dose_no <= vaccine.doses:
            given = self.db.conn.execute(
                "SELECT v.record_id, v.dose_no, v.vaccinated_ms FROM record_versions v"
                " WHERE archive_no = ? AND"
                " vaccine_code = ? AND version = (SELECT MAX(version) FROM record_versions w"
                " WHERE w.record_id = v.record_id) AND status = '01'",
                (record.recipient.archive_no, record.vaccine_code),
            ).fetchall()
            others = [(n, ms) for rid, n, ms in given if rid != record.record_id]
            doses = sorted(n for n, _ in others)
            earlier = [from_ms(ms) for n, ms in others if n < record.dose_no]
            problems += schedule_problems(record, vaccine, earlier)
            if record.dose_no in doses:
                problems.append(
                    problem(
                        "dose_no",
                        f"dose {record.dose_no} was already given",
                        ProblemCode.DOSE_ALREADY_GIVEN,
                        dose_no=record.dose_no,
                    )
                )
            elif doses != list(range(1, record.dose_no)) and record.dose_no > len(doses):
                given_so_far = ", ".join(map(str, doses)) or "—"
                problems.append(problem("dose_no", f"dose {record.dose_no} out of sequence: doses "
                                        f"given so far {doses or 'none'}",
                                        ProblemCode.DOSE_OUT_OF_SEQUENCE, dose_no=record.dose_no,
                                        given=given_so_far))  # fmt: skip
        return problems

    def _append(self, record: DoseRecord, *, reason: str, actor: str) -> DoseRecord:
        """Store one version, stamped with 修改时间 (now), and queue it for upload."""
        now = self.clock.now()
        now_ms = to_ms(now)
        record = replace(record, updated_at=now)
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
        return record
