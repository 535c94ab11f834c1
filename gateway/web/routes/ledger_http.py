"""What the ledger routes share at the HTTP edge: the book on the app, bodies, refusals.

Every refusal answers 4xx in the one refusal shape (`gateway.web.json_http`): `code` the kind,
`field` the offending input and `reason` why (the first of `problems`, which lists them all).
Ledger errors are translated here, with their own codes: a refused operation changed nothing
(the core works in one transaction), so the client may fix the field and send again. A ledger
file that cannot be written answers 503. Request bodies are pydantic models that refuse
unknown fields.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import StringConstraints

from gateway.auth.policy import Action, User
from gateway.core.clinic_time import CLINIC_TZ
from gateway.ledgers.book import LedgerBook
from gateway.storage.ledger.audit import ReadAudit
from gateway.web.access import require
from gateway.web.edge import answer_for
from gateway.web.json_http import RequestBody, refusal
from ledger.errors import LedgerError
from ledger.masking import Shown
from ledger.vaccination_records import DoseRecord, Recipient

BOOK = web.AppKey("ledger_book", LedgerBook)
AUDIT = web.AppKey("ledger_read_audit", ReadAudit)
MAX_SCANS = 5_000

#: required text: surrounding blanks are dropped, and nothing left is refused
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
#: a name that may be left empty (a parent's or guardian's)
OptionalName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]


# A scan as text or base64: a trace code, a GS1 string or an ID card number.
Scanned = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class ScanBody(RequestBody):
    """One scan as the scanner sent it: text (GS as \\u001d), or exact bytes in base64."""

    scan: Scanned
    encoding: Literal["text", "base64"] = "text"
    event_id: Text

    def raw(self) -> bytes | str:
        return decode_scan(self.scan, self.encoding, "scan")


def decode_scan(value: str, encoding: str, field: str) -> bytes | str:
    if encoding == "text":
        return value
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error, or text beyond ASCII
        raise refusal(web.HTTPUnprocessableEntity, [(field, "not valid base64")]) from None


def not_found(field: str, reason: str) -> web.HTTPException:
    return refusal(web.HTTPNotFound, [(field, reason)])


@contextmanager
def ledger_refusals(request: web.Request) -> Iterator[None]:
    """Translate the ledger's refusals into HTTP answers as the edge does (`answer_for`: 422;
    409 for a reused event id; 503 for the file)."""
    try:
        yield
    except LedgerError as error:
        raise answer_for(error, request.app) from None


def query_text(request: web.Request, name: str, *, limit: int = 200) -> str | None:
    value = request.query.get(name)
    if value is not None and len(value) > limit:
        raise refusal(web.HTTPBadRequest, [(name, f"longer than {limit} characters")])
    return value or None


def required_text(request: web.Request, name: str) -> str:
    """The query parameter `name`, stripped; refused when absent or blank."""
    value = request.query.get(name, "").strip()
    if not value:
        raise refusal(web.HTTPBadRequest, [(name, "missing: this query parameter is required")])
    return value


def query_day(request: web.Request, book: LedgerBook, name: str = "day") -> date:
    """The `day` query parameter (YYYY-MM-DD), or today in China."""
    text = request.query.get(name)
    if not text:
        return book.clock.now().astimezone(CLINIC_TZ).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise refusal(
            web.HTTPBadRequest, [(name, f"{text!r} is not a date; write YYYY-MM-DD")]
        ) from None


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def reader(request: web.Request) -> User:
    """The signed-in user for a read of the ledger (every role may read; masks apply)."""
    return require(request, Action.VIEW)


def recipient_json(person: Recipient, shown: Shown) -> dict[str, Any]:
    visible = shown.recipient(person)
    return {
        "archive_no": visible.archive_no,
        "name": visible.name,
        "sex": visible.sex,
        "birth_date": visible.birth_date.isoformat(),
        "id_number": visible.id_number,
        "phone": visible.phone,
        "address": visible.address,
        "crowd_category": visible.crowd_category,
        "household_county": visible.household_county,
        "current_area": visible.current_area,
        "marital_status": visible.marital_status,
        "occupation": visible.occupation,
        "father_name": visible.father_name,
        "mother_name": visible.mother_name,
        "guardian_name": visible.guardian_name,
        "archive_unit": visible.archive_unit,
        "management_unit": visible.management_unit,
        "management_start": visible.management_start.isoformat()
        if visible.management_start
        else None,
        "updated_unit": visible.updated_unit,
        "updated_at": iso(visible.updated_at),
        "masked": not shown.full,
    }


def record_json(record: DoseRecord, shown: Shown) -> dict[str, Any]:
    return {
        "record_id": record.record_id,
        "version": record.version,
        "status": record.status,
        "recipient": recipient_json(record.recipient, shown),
        "vaccine_code": record.vaccine_code,
        "manufacturer_code": record.manufacturer_code,
        "batch_no": record.batch_no,
        "trace_code": record.trace_code,
        "dose_no": record.dose_no,
        "vaccinated_at": record.vaccinated_at.isoformat(),
        "site_code": record.site_code,
        "vaccinator": record.vaccinator,
        "vaccination_type": record.vaccination_type,
        "vaccine_attribute": record.vaccine_attribute,
        "unit_code": record.unit_code,
    }
