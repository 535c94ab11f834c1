"""HTTP routes of the vaccination ledger: recipients, doses, corrections, certificate.

Every read of a person's data (the recipient, their doses, a record's versions, the
certificate, the day's list) is noted in the read audit before the answer goes out; a read
that cannot be noted is refused. Users without `Action.VIEW_PERSONAL_DATA` see names, ID
numbers, phones and addresses masked. The vaccinator of a dose is the signed-in user, and
every version of a recipient or a record names its actor, the signed-in user who entered it
(null for versions entered before actors were recorded).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field

from gateway.auth.policy import Action, User, shown_to
from gateway.core.clinic_time import CLINIC_TZ
from gateway.web.access import HTML, add_route, require
from gateway.web.audit_note import note
from gateway.web.json_http import RequestBody, json_response, parse_body, refusal
from gateway.web.routes.ledger_http import (
    AUDIT,
    BOOK,
    Code,
    OptionalName,
    ScanBody,
    Text,
    ledger_refusals,
    not_found,
    query_day,
    query_text,
    reader,
    recipient_json,
    record_json,
)
from ledger.certificate import PAPERS, Paper, certificate_html
from ledger.errors import RecordError
from ledger.register_sheet import register_html
from ledger.vaccination_records import (
    DoseRecord,
    Recipient,
    RecipientVersion,
    RecordVersion,
    next_doses,
)


class PersonBody(RequestBody):
    """A recipient as PUT to /api/ledger/recipients/{archive_no} (a new version of them)."""

    name: Text
    sex: Literal["1", "2"]
    birth_date: date
    id_number: Code
    phone: Annotated[str, Field(max_length=20)] = ""
    address: Text
    crowd_category: Code
    household_county: Code
    current_area: Code
    marital_status: Code
    occupation: Code
    father_name: OptionalName = ""
    mother_name: OptionalName = ""
    guardian_name: OptionalName = ""


class RecipientBody(PersonBody):
    archive_no: Code


class DoseBody(ScanBody):
    """A dose: vaccine, manufacturer, batch and expiry come from the scan (a manufacturer given
    must agree with it); site, type and attribute by their codes or their names."""

    archive_no: Code
    dose_no: Annotated[int, Field(ge=1, le=20)]
    manufacturer_code: Code | None = None
    site_code: Code
    vaccination_type: Code
    vaccine_attribute: Code


class Changes(RequestBody):
    """What a correction may change; vaccine, batch and trace code come from the scan."""

    manufacturer_code: Code | None = None
    dose_no: Annotated[int, Field(ge=1, le=20)] | None = None
    site_code: Code | None = None
    vaccinator: Text | None = None
    vaccination_type: Code | None = None
    vaccine_attribute: Code | None = None
    name: Text | None = None
    sex: Literal["1", "2"] | None = None
    birth_date: date | None = None
    id_number: Code | None = None
    phone: Annotated[str, Field(max_length=20)] | None = None
    address: Text | None = None
    crowd_category: Code | None = None
    household_county: Code | None = None
    current_area: Code | None = None
    marital_status: Code | None = None
    occupation: Code | None = None
    father_name: OptionalName | None = None
    mother_name: OptionalName | None = None
    guardian_name: OptionalName | None = None


class CorrectionBody(RequestBody):
    reason: Text
    changes: Changes


class DeletionBody(RequestBody):
    reason: Text


def add_record_routes(app: web.Application) -> None:
    person, doses = "/api/ledger/recipients/{archive_no}", "/api/ledger/doses"
    add_route(
        app, "POST", "/api/ledger/recipients", register, Action.ADMINISTER, body=RecipientBody
    )
    add_route(app, "PUT", person, update_recipient, Action.RECORD_CORRECT, body=PersonBody)
    add_route(app, "GET", person, recipient, Action.VIEW, query=("purpose",))
    add_route(app, "GET", f"{person}/history", person_history, Action.VIEW, query=("purpose",))
    add_route(
        app,
        "GET",
        f"{person}/certificate",
        certificate,
        Action.VIEW,
        produces=HTML,
        query=("purpose", "paper"),
    )
    add_route(app, "POST", doses, record_dose, Action.ADMINISTER, body=DoseBody)
    add_route(app, "GET", doses, day_doses, Action.VIEW, query=("purpose", "day"))
    add_route(
        app, "GET", "/api/ledger/register", day_register, Action.VIEW,
        query=("day", "batch", "purpose"), produces=HTML,
    )  # fmt: skip
    add_route(
        app, "GET", f"{doses}/{{record_id}}", record_versions, Action.VIEW, query=("purpose",)
    )
    add_route(
        app,
        "POST",
        f"{doses}/{{record_id}}/correction",
        correct,
        Action.RECORD_CORRECT,
        body=CorrectionBody,
    )
    add_route(
        app,
        "POST",
        f"{doses}/{{record_id}}/deletion",
        delete,
        Action.RECORD_CORRECT,
        body=DeletionBody,
    )


def _note_read(
    request: web.Request, user: User, what: str, *, archive_no: str = "", record_id: str = ""
) -> None:
    purpose = query_text(request, "purpose") or ""
    with ledger_refusals(request):
        request.app[AUDIT].note(
            user.name, what, archive_no=archive_no, record_id=record_id, purpose=purpose
        )


def _person(request: web.Request) -> Recipient:
    archive_no = request.match_info["archive_no"]
    with ledger_refusals(request):
        try:
            return request.app[BOOK].vaccinations.recipient(archive_no)
        except RecordError as error:
            raise not_found(error.field, error.reason) from None


def _records_of(request: web.Request, archive_no: str) -> list[DoseRecord]:
    with ledger_refusals(request):
        records = request.app[BOOK].vaccinations.current_records()
    return [record for record in records if record.recipient.archive_no == archive_no]


def _dose(record: DoseRecord, user: User) -> dict[str, Any]:
    return record_json(record, shown_to(user))


def _is_registered(request: web.Request, archive_no: str) -> bool:
    with ledger_refusals(request):
        try:
            request.app[BOOK].vaccinations.recipient(archive_no)
        except RecordError:
            return False
    return True


async def register(request: web.Request) -> web.Response:
    """A new recipient; a known archive number is refused (PUT changes a recipient)."""
    user = require(request, Action.ADMINISTER)
    body = await parse_body(request, RecipientBody)
    if _is_registered(request, body.archive_no):
        raise refusal(
            web.HTTPConflict,
            [
                (
                    "archive_no",
                    f"{body.archive_no} is registered"
                    f" already; change it with PUT /api/ledger/recipients/{body.archive_no}",
                )
            ],
        )
    with ledger_refusals(request):
        person = request.app[BOOK].vaccinations.register(
            Recipient(**body.model_dump()), actor=user.name
        )
    note(request, f"registered recipient {person.archive_no}")
    return json_response(recipient_json(person, shown_to(user)), 201)


async def update_recipient(request: web.Request) -> web.Response:
    """A new version of a recipient (the old versions stay)."""
    user = require(request, Action.RECORD_CORRECT)
    body = await parse_body(request, PersonBody)
    archive_no = _person(request).archive_no
    with ledger_refusals(request):
        person = request.app[BOOK].vaccinations.register(
            Recipient(archive_no=archive_no, **body.model_dump()), actor=user.name
        )
    note(request, f"new version of recipient {archive_no}")
    return json_response(recipient_json(person, shown_to(user)))


async def recipient(request: web.Request) -> web.Response:
    user = reader(request)
    person = _person(request)
    _note_read(request, user, "recipient", archive_no=person.archive_no)
    return json_response(recipient_json(person, shown_to(user)))


async def person_history(request: web.Request) -> web.Response:
    """A person's doses (latest version of each record, deleted ones with status 02) and
    every version of the person, oldest first, with its actor."""
    user = reader(request)
    person = _person(request)
    records = _records_of(request, person.archive_no)
    with ledger_refusals(request):
        versions = request.app[BOOK].vaccinations.recipient_versions(person.archive_no)
    _note_read(request, user, "history", archive_no=person.archive_no)
    return json_response(
        {
            "recipient": recipient_json(person, shown_to(user)),
            "recipient_versions": [_person_version(version, user) for version in versions],
            "doses": [_dose(record, user) for record in records],
        }
    )


def _person_version(version: RecipientVersion, user: User) -> dict[str, Any]:
    return recipient_json(version.recipient, shown_to(user)) | {
        "version": version.version,
        "actor": version.actor,
        "entered_at": version.entered_at.isoformat(),
    }


async def certificate(request: web.Request) -> web.Response:
    """预防接种凭证 as a printable page; `paper=A4` for A4, A5 otherwise."""
    user = reader(request)
    paper_text = request.query.get("paper", "A5")
    if paper_text not in PAPERS:
        raise refusal(web.HTTPBadRequest, [("paper", f"{paper_text!r}: give A5 or A4")])
    paper: Paper = "A4" if paper_text == "A4" else "A5"
    person = _person(request)
    records = _records_of(request, person.archive_no)
    shown = shown_to(user)
    person = shown.recipient(person)
    records = [shown.record(record) for record in records]
    _note_read(request, user, "certificate", archive_no=person.archive_no)
    book = request.app[BOOK]
    with ledger_refusals(request):
        unit_names = book.unit_names()
    page = certificate_html(
        person,
        records,
        book.tables,
        printed_at=book.clock.now(),
        issuer=unit_names.get(book.unit_code, book.unit_code),
        unit_names=unit_names,
        next_due=next_doses(person, records, book.tables),
        paper=paper,
    )
    return web.Response(text=page, content_type="text/html", charset="utf-8")


async def record_dose(request: web.Request) -> web.Response:
    """扫码接种: the package's administer event and the dose record, in one transaction."""
    user = require(request, Action.ADMINISTER)
    body = await parse_body(request, DoseBody)
    book = request.app[BOOK]
    with ledger_refusals(request):
        existed = bool(book.vaccinations.history(body.event_id))
        record = book.vaccinations.record_dose(
            archive_no=body.archive_no,
            scan=body.raw(),
            event_id=body.event_id,
            dose_no=body.dose_no,
            manufacturer_code=body.manufacturer_code,
            site_code=body.site_code,
            vaccinator=user.display_name or user.name,
            vaccination_type=body.vaccination_type,
            vaccine_attribute=body.vaccine_attribute,
            unit_code=book.unit_code,
            actor=user.name,
        )
    again = " again: no change" if existed else ""
    note(request, f"recorded dose {record.record_id} for {body.archive_no}{again}")
    data = _dose(record, user) | {"duplicate": existed}
    return json_response(data, status=200 if existed else 201)


async def day_doses(request: web.Request) -> web.Response:
    """The doses given on `day` (default today, China time), latest versions."""
    user = reader(request)
    book = request.app[BOOK]
    day = query_day(request, book)
    with ledger_refusals(request):
        records = [
            record
            for record in book.vaccinations.current_records()
            if record.vaccinated_at.astimezone(CLINIC_TZ).date() == day
        ]
    _note_read(request, user, "day_list")
    return json_response(
        {"day": day.isoformat(), "doses": [_dose(record, user) for record in records]}
    )


async def day_register(request: web.Request) -> web.Response:
    """接种登记表 of `day` (default today), one table per vaccine and batch; `batch` prints
    one batch. Personal data masked for readers who may not see it; the read is audited."""
    user = reader(request)
    book = request.app[BOOK]
    day = query_day(request, book)
    batch = query_text(request, "batch")
    shown = shown_to(user)
    with ledger_refusals(request):
        records = [shown.record(record) for record in book.vaccinations.current_records()]
        name = book.clinic_name()
    _note_read(request, user, "register")
    page = register_html(
        records, day, book.tables, unit_name=name, expiry_of=book.catalogue.expiry_of,
        printed_at=book.clock.now(), batch_no=batch,
    )  # fmt: skip
    return web.Response(text=page, content_type="text/html", charset="utf-8")


async def record_versions(request: web.Request) -> web.Response:
    """Every version of one record, oldest first (corrections 01, deletion 02)."""
    user = reader(request)
    record_id = request.match_info["record_id"]
    with ledger_refusals(request):
        versions = request.app[BOOK].vaccinations.versions(record_id)
    if not versions:
        raise not_found("record_id", f"{record_id} is not a recorded dose")
    archive_no = versions[-1].record.recipient.archive_no
    _note_read(request, user, "record", archive_no=archive_no, record_id=record_id)
    shown = [_record_version(version, user) for version in versions]
    return json_response({"record_id": record_id, "versions": shown})


def _record_version(version: RecordVersion, user: User) -> dict[str, Any]:
    return _dose(version.record, user) | {
        "actor": version.actor,
        "entered_at": version.entered_at.isoformat(),
    }


async def correct(request: web.Request) -> web.Response:
    user = require(request, Action.RECORD_CORRECT)
    body = await parse_body(request, CorrectionBody)
    changes = body.changes.model_dump(exclude_none=True)
    if not changes:
        raise refusal(web.HTTPUnprocessableEntity, [("changes", "empty: nothing to correct")])
    with ledger_refusals(request):
        record = request.app[BOOK].vaccinations.correct(
            request.match_info["record_id"], reason=body.reason, actor=user.name, **changes
        )
    note(request, f"corrected {record.record_id}: version {record.version}")
    return json_response(_dose(record, user), status=201)


async def delete(request: web.Request) -> web.Response:
    user = require(request, Action.RECORD_CORRECT)
    body = await parse_body(request, DeletionBody)
    with ledger_refusals(request):
        record = request.app[BOOK].vaccinations.delete(
            request.match_info["record_id"], reason=body.reason, actor=user.name
        )
    note(request, f"deleted {record.record_id}: version {record.version}")
    return json_response(_dose(record, user), status=201)
