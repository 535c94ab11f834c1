"""HTTP API of the ledgers: `add_ledger_routes` puts them on the gateway's app.

This module holds the catalogue (shipment import, scan look-up) and the read audit; the upload
views (queue, rejections, corrections, day rates) are in `gateway.web.routes.ledger_upload`, the
daily summary tables and sheets in `gateway.web.routes.ledger_summaries`, the stock routes in
`gateway.web.routes.ledger_stock`, the vaccination routes in
`gateway.web.routes.ledger_records`, what they share in `gateway.web.routes.ledger_http`. JSON in
and out; refusals as described there.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field

from gateway.auth.policy import Action, User, shown_to
from gateway.core.clinic_time import CLINIC_TZ
from gateway.ledgers.book import LedgerBook
from gateway.storage.ledger.audit import ReadAudit
from gateway.web import sizes
from gateway.web.access import add_route, require
from gateway.web.audit_note import note
from gateway.web.json_http import RequestBody, json_response, parse_body, read_text, refusal
from gateway.web.query import query_whole
from gateway.web.routes.ledger_http import (
    AUDIT,
    BOOK,
    decode_scan,
    iso,
    ledger_refusals,
    query_text,
    reader,
)
from gateway.web.routes.ledger_records import add_record_routes
from gateway.web.routes.ledger_stock import add_stock_routes
from gateway.web.routes.ledger_summaries import add_summary_routes
from gateway.web.routes.ledger_upload import add_upload_routes
from ledger.codes import FridgeLabel, IdCardScan, TraceCode, classify
from ledger.errors import CatalogueError, LedgerError, ScanError
from ledger.shipments import Resolved
from ledger.stock_errors import PackageNotReceivedError

MAX_READS = 1000


class ResolveBody(RequestBody):
    scan: Annotated[str, Field(max_length=sizes.SCAN_TEXT)]
    encoding: Literal["text", "base64"] = "text"


def add_ledger_routes(app: web.Application, book: LedgerBook) -> None:
    app[BOOK] = book
    app[AUDIT] = ReadAudit(book.db, book.clock)
    add_route(app, "POST", "/api/ledger/catalogue/import", import_shipment, Action.CATALOGUE_IMPORT)
    add_route(app, "POST", "/api/ledger/units/import", import_units, Action.CATALOGUE_IMPORT)
    add_route(app, "GET", "/api/ledger/units", units, Action.VIEW)
    add_route(app, "GET", "/api/ledger/scrap-reasons", scrap_reasons, Action.VIEW)
    add_route(app, "GET", "/api/ledger/code-tables", code_tables, Action.VIEW)
    add_route(app, "POST", "/api/ledger/resolve", resolve, Action.VIEW, body=ResolveBody)
    add_upload_routes(app)
    add_summary_routes(app)
    add_route(
        app,
        "GET",
        "/api/ledger/audit/reads",
        audit_reads,
        Action.AUDIT_VIEW,
        query=("after", "limit", "archive_no", "reader"),
    )
    add_stock_routes(app)
    add_record_routes(app)


async def import_shipment(request: web.Request) -> web.Response:
    """Upstream shipment data, JSON (application/json) or CSV (text/csv); all or nothing."""
    require(request, Action.CATALOGUE_IMPORT)
    book = request.app[BOOK]
    text = await read_text(request)
    with ledger_refusals(request):
        if request.content_type == "application/json":
            summary = book.catalogue.import_json(text)
        elif request.content_type == "text/csv":
            summary = book.catalogue.import_csv(text)
        else:
            raise refusal(
                web.HTTPUnsupportedMediaType,
                [("content-type", f"{request.content_type!r}: send application/json or text/csv")],
            )
    note(
        request,
        f"imported shipment: {summary.products} products, {summary.batches} batches,"
        f" {summary.trace_codes} trace codes",
    )
    return json_response(
        {
            "products": summary.products,
            "batches": summary.batches,
            "trace_codes": summary.trace_codes,
        },
        status=201,
    )


async def import_units(request: web.Request) -> web.Response:
    """The catalogue of units (text/csv: unit_code,name,level,vaccinating); all or nothing;
    units already known are updated."""
    require(request, Action.CATALOGUE_IMPORT)
    if request.content_type != "text/csv":
        raise refusal(
            web.HTTPUnsupportedMediaType,
            [("content-type", f"{request.content_type!r}: send text/csv")],
        )
    text = await read_text(request)
    with ledger_refusals(request):
        count = request.app[BOOK].stock.units.import_csv(text)
    note(request, f"imported {count} unit(s) into the catalogue of units")
    return json_response({"units": count}, status=201)


async def units(request: web.Request) -> web.Response:
    """The catalogue of units, highest level first."""
    reader(request)
    with ledger_refusals(request):
        found = request.app[BOOK].stock.units.all()
    return json_response(
        {
            "units": [
                {
                    "unit_code": unit.code,
                    "name": unit.name,
                    "level": unit.level.name.lower(),
                    "vaccinating": unit.vaccinating,
                }
                for unit in found
            ]
        }
    )


async def scrap_reasons(request: web.Request) -> web.Response:
    """The codes a scrap may name (疫苗报废原因), to choose from by name."""
    reader(request)
    reasons = request.app[BOOK].stock.scrap_reasons
    return json_response(
        {"reasons": [{"code": code, "name": name} for code, name in sorted(reasons.items())]}
    )


async def code_tables(request: web.Request) -> web.Response:
    """Each code table a person or a dose is entered from, by the field it fills, as
    [{code, name}] in code order; the vaccines with the types and attributes each allows. The
    pages offer them as choices; the routes take the code or the name."""
    reader(request)
    tables = request.app[BOOK].tables
    coded = {
        field: [{"code": code, "name": name} for code, name in sorted(table.items())]
        for field, table in tables.coded().items()
    }
    vaccines = [
        {
            "code": vaccine.code,
            "name": vaccine.name,
            "manufacturers": sorted(vaccine.manufacturers),
            "vaccination_types": sorted(vaccine.vaccination_types),
            "vaccine_attributes": sorted(vaccine.vaccine_attributes),
            "doses": vaccine.doses,
        }
        for vaccine in sorted(tables.vaccines.values(), key=lambda v: v.code)
    ]
    return json_response({"tables": coded, "vaccines": vaccines})


def _package(book: LedgerBook, item: Resolved) -> dict[str, Any]:
    today = book.clock.now().astimezone(CLINIC_TZ).date()
    product, batch = item.product, item.batch
    try:
        state = book.stock.state(item.code)
    except PackageNotReceivedError:
        stock: dict[str, Any] = {"state": "not_received"}
    else:
        stock = {
            "state": state.state,
            "doses_left": state.doses_left,
            "discard_at": iso(state.discard_at),
            "held_by": state.held_by,
        }
    return {
        "code": item.code,
        "verified": item.verified,
        "product": {
            "product_id": product.product_id,
            "vaccine_code": product.vaccine_code,
            "name": product.name,
            "manufacturer_code": product.manufacturer_code,
            "form": product.form,
            "doses_per_vial": product.doses_per_vial,
        },
        "batch": {
            "batch_no": batch.batch_no,
            "production_date": batch.production_date.isoformat(),
            "expiry_date": batch.expiry_date.isoformat(),
            "lot_release_no": batch.lot_release_no,
            "expired": today > batch.expiry_date,
        },
        "stock": stock,
    }


def _classified(book: LedgerBook, raw: bytes | str, user: User) -> dict[str, Any]:
    scan = classify(raw)
    if isinstance(scan, FridgeLabel):
        return {"kind": "fridge_label", "unit_code": scan.unit_code, "fridge": scan.fridge_code}
    if isinstance(scan, IdCardScan):
        number = scan.id_number.number
        return {
            "kind": "id_card",
            "id_number": shown_to(user).id_number(number),
        }
    kind = "trace_code" if isinstance(scan, TraceCode) else "gs1"
    try:
        item = book.catalogue.resolve(scan)
    except CatalogueError as error:
        return {"kind": kind, "refusal": _refusal(error)}
    return {"kind": kind, **_package(book, item)}


def _refusal(error: LedgerError) -> dict[str, Any]:
    """Why a scan is refused, as a refusal names it (its code translated by the pages)."""
    return {
        "field": error.field,
        "reason": error.reason,
        "code": error.code,
        "params": error.params,
    }


async def resolve(request: web.Request) -> web.Response:
    """What a scan is: its kind and, for a package, product, batch and stock state; or why
    it is refused (``kind: unknown``). Looks only; changes nothing."""
    user = reader(request)
    body = await parse_body(request, ResolveBody)
    raw = decode_scan(body.scan, body.encoding, "scan")
    book = request.app[BOOK]
    with ledger_refusals(request):
        try:
            answer = _classified(book, raw, user)
        except ScanError as error:
            answer = {"kind": "unknown", "refusal": _refusal(error)}
    note(request, f"looked up a scan: {answer['kind']}")
    return json_response(answer)


async def audit_reads(request: web.Request) -> web.Response:
    """Who read which person's records: `archive_no`, `reader`, `after` (seq), `limit`."""
    require(request, Action.AUDIT_VIEW)
    audit = request.app[AUDIT]
    with ledger_refusals(request):
        reads = audit.reads(
            archive_no=query_text(request, "archive_no"),
            reader=query_text(request, "reader"),
            after_seq=query_whole(request, "after", 0, 0, 2**63 - 1),
            limit=query_whole(request, "limit", 200, 1, MAX_READS),
        )
    return json_response(
        {
            "reads": [
                {
                    "seq": r.seq,
                    "at": iso(r.at),
                    "reader": r.reader,
                    "what": r.what,
                    "archive_no": r.archive_no,
                    "record_id": r.record_id,
                    "purpose": r.purpose,
                }
                for r in reads
            ]
        }
    )
