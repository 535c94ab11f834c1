"""HTTP API of the ledgers: `add_ledger_routes` puts them on the gateway's app.

This module holds the catalogue (shipment import, scan look-up), the upload views (queue,
rejections, day rates, daily summary tables) and the read audit; the stock routes are in
`gateway.web.routes.ledger_stock`, the vaccination routes in
`gateway.web.routes.ledger_records`, what they share in `gateway.web.routes.ledger_http`. JSON in
and out; refusals as described there.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field, StringConstraints

from gateway.auth.policy import Action, User, shown_to
from gateway.core.clinic_time import CLINIC_TZ
from gateway.ledgers.book import LedgerBook
from gateway.storage.ledger.audit import ReadAudit
from gateway.storage.ledger.queries import read_meta, write_meta
from gateway.web import sizes
from gateway.web.access import HTML, add_route, require
from gateway.web.audit_note import note
from gateway.web.json_http import json_response, parse_body, read_text, refusal
from gateway.web.query import query_whole
from gateway.web.routes.ledger_http import (
    AUDIT,
    BOOK,
    Body,
    decode_scan,
    iso,
    ledger_refusals,
    query_day,
    query_text,
    reader,
)
from gateway.web.routes.ledger_records import add_record_routes
from gateway.web.routes.ledger_stock import add_stock_routes
from ledger.codes import FridgeLabel, IdCardScan, TraceCode, classify
from ledger.errors import CatalogueError, ScanError, StockError
from ledger.shipments import Resolved
from ledger.summaries import SummaryTable, daily_tables
from ledger.summary_sheet import TITLES, sheets_csv, sheets_html, summary_sheets
from ledger.vaccination_records import DoseRecord

MAX_READS = 1000


class ResolveBody(Body):
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
    add_route(app, "GET", "/api/ledger/upload/queue", upload_queue, Action.UPLOAD_VIEW)
    add_route(app, "GET", "/api/ledger/upload/rejections", rejections, Action.UPLOAD_VIEW)
    add_route(
        app,
        "POST",
        "/api/ledger/upload/circulation/{event_id}/correction",
        correct_circulation,
        Action.STOCK_ISSUE,
        body=CirculationCorrectionBody,
    )
    add_route(app, "GET", "/api/ledger/upload/rates", rates, Action.UPLOAD_VIEW, query=("day",))
    add_route(app, "GET", "/api/ledger/summaries", summaries, Action.UPLOAD_VIEW, query=("day",))
    add_route(
        app, "GET", "/api/ledger/summaries/sheet", summary_sheet, Action.UPLOAD_VIEW,
        query=("day", "by", "format"), produces=HTML,
    )  # fmt: skip
    add_route(
        app, "PUT", "/api/ledger/summaries/survey", put_survey, Action.CATALOGUE_IMPORT,
        body=SurveyBody,
    )  # fmt: skip
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
    with ledger_refusals():
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
    with ledger_refusals():
        count = request.app[BOOK].stock.units.import_csv(text)
    note(request, f"imported {count} unit(s) into the catalogue of units")
    return json_response({"units": count}, status=201)


async def units(request: web.Request) -> web.Response:
    """The catalogue of units, highest level first."""
    reader(request)
    with ledger_refusals():
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
    except StockError:
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
        return {"kind": kind, "refusal": {"field": error.field, "reason": error.reason}}
    return {"kind": kind, **_package(book, item)}


async def resolve(request: web.Request) -> web.Response:
    """What a scan is: its kind and, for a package, product, batch and stock state; or why
    it is refused (``kind: unknown``). Looks only; changes nothing."""
    user = reader(request)
    body = await parse_body(request, ResolveBody)
    raw = decode_scan(body.scan, body.encoding, "scan")
    book = request.app[BOOK]
    with ledger_refusals():
        try:
            answer = _classified(book, raw, user)
        except ScanError as error:
            answer = {"kind": "unknown", "refusal": {"field": error.field, "reason": error.reason}}
    note(request, f"looked up a scan: {answer['kind']}")
    return json_response(answer)


async def upload_queue(request: web.Request) -> web.Response:
    require(request, Action.UPLOAD_VIEW)
    uploader = request.app[BOOK].uploader
    with ledger_refusals():
        pending = uploader.pending()
        alarms = uploader.deadline_alarms()
        rejected = uploader.rejections()
        circulation = uploader.circulation.counts()
    return json_response(
        {
            "realtime": uploader.realtime,
            "pending": [{"record_id": r, "version": v} for r, v in pending],
            "rejected": len(rejected),
            "circulation": circulation,
            "deadline_alarms": [
                {
                    "record_id": a.record_id,
                    "version": a.version,
                    "deadline": iso(a.deadline),
                    "state": a.state,
                    "error": a.error,
                }
                for a in alarms
            ],
        }
    )


async def rejections(request: web.Request) -> web.Response:
    """Versions the platform refused (dose records and circulation messages, `type`) and no
    correction has replaced yet, with the kind of each refusal, counted by kind and type."""
    require(request, Action.UPLOAD_VIEW)
    uploader = request.app[BOOK].uploader
    with ledger_refusals():
        rows = [(r, v, m, k, "dose") for r, v, m, k in uploader.rejections()]
        rows += [
            (item.event.event_id, item.event.version, item.message, item.kind, item.event.kind)
            for item in uploader.circulation_rejections()
        ]
    by_kind: dict[str, int] = defaultdict(int)
    by_type: dict[str, int] = defaultdict(int)
    for *_, kind, message_type in rows:
        by_kind[kind] += 1
        by_type[message_type] += 1
    return json_response(
        {
            "rejections": [
                {"record_id": r, "version": v, "message": m, "kind": k, "type": t}
                for r, v, m, k, t in rows
            ],
            "by_kind": dict(sorted(by_kind.items())),
            "by_type": dict(sorted(by_type.items())),
        }
    )


class CirculationCorrectionBody(Body):
    """The corrected fields of a rejected circulation message (none: sent again as it was)."""

    to_unit: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    reason_code: Annotated[str, Field(min_length=1, max_length=8)] | None = None


async def correct_circulation(request: web.Request) -> web.Response:
    """A rejected circulation message corrected: its next version is queued and sent."""
    require(request, Action.STOCK_ISSUE)
    body = await parse_body(request, CirculationCorrectionBody)
    book = request.app[BOOK]
    event_id = request.match_info["event_id"]
    with ledger_refusals():
        if body.to_unit is not None:
            book.stock.units.known(body.to_unit, "to_unit", "the receiving unit")
        if body.reason_code is not None and body.reason_code not in book.stock.scrap_reasons:
            raise StockError("reason_code", f"{body.reason_code!r} is not a scrap reason code")
        event = book.uploader.correct_circulation(
            event_id, to_unit=body.to_unit, reason_code=body.reason_code
        )
    book.queued.set()
    note(request, f"corrected the {event.kind} message {event_id}: version {event.version}")
    return json_response(
        {"event_id": event.event_id, "version": event.version, "kind": event.kind}, status=201
    )


async def rates(request: web.Request) -> web.Response:
    """Upload rate and timeliness rate (accepted within 24 h) of one vaccination day."""
    require(request, Action.UPLOAD_VIEW)
    book = request.app[BOOK]
    day = query_day(request, book)
    with ledger_refusals():
        day_rates = book.uploader.rates(day)
    return json_response(
        {
            "day": day.isoformat(),
            "records": day_rates.records,
            "uploaded": day_rates.uploaded,
            "on_time": day_rates.on_time,
            "upload_rate": day_rates.upload_rate,
            "timeliness_rate": day_rates.timeliness_rate,
        }
    )


def _tables_until(
    book: LedgerBook, records: list[DoseRecord], day: date
) -> dict[str, SummaryTable]:
    """The day's tables, cumulative over every earlier day with doses (chained day by day)."""
    by_day: dict[date, list[DoseRecord]] = defaultdict(list)
    for record in records:
        by_day[record.vaccinated_at.astimezone(CLINIC_TZ).date()].append(record)
    before: dict[str, SummaryTable] | None = None
    for earlier in sorted(d for d in by_day if d < day):
        before = daily_tables(by_day[earlier], earlier, book.tables, before)
    return daily_tables(by_day.get(day, []), day, book.tables, before)


def _table_json(table: SummaryTable) -> dict[str, Any]:
    keys = sorted(set(table.today) | set(table.cumulative))
    return {
        "by": table.by,
        "zero_report": table.zero_report,
        "due_at": iso(table.due_at),
        "rows": [
            {
                "manufacturer_code": maker,
                "group": group,
                "dose": dose,
                "today": table.today.get((maker, group, dose), 0),
                "cumulative": table.cumulative.get((maker, group, dose), 0),
            }
            for maker, group, dose in keys
        ],
    }


async def summaries(request: web.Request) -> web.Response:
    """The daily summary tables (by age group, by crowd category) of `day`."""
    require(request, Action.UPLOAD_VIEW)
    book = request.app[BOOK]
    day = query_day(request, book)
    with ledger_refusals():
        tables = _tables_until(book, book.vaccinations.current_records(), day)
    return json_response(
        {"day": day.isoformat(), "tables": {by: _table_json(t) for by, t in tables.items()}}
    )


class SurveyBody(Body):
    """摸底总人数 per group of one table: age group labels or crowd category codes."""

    by: Literal["age_group", "crowd_category"]
    counts: Annotated[
        dict[Annotated[str, StringConstraints(max_length=sizes.CODE)], Annotated[int, Field(ge=0)]],
        Field(max_length=64),
    ]


def _survey(book: LedgerBook, by: str) -> dict[str, int]:
    text = read_meta(book.db, f"survey:{by}")
    return {} if text is None else {str(k): int(v) for k, v in json.loads(text).items()}


async def put_survey(request: web.Request) -> web.Response:
    """Set 摸底总人数 of the groups of one table (those not named are left as they were)."""
    require(request, Action.CATALOGUE_IMPORT)
    body = await parse_body(request, SurveyBody)
    book = request.app[BOOK]
    groups = (
        {group.label for group in book.tables.age_groups}
        if body.by == "age_group"
        else set(book.tables.crowd_categories)
    )
    unknown = sorted(set(body.counts) - groups)
    if unknown:
        raise refusal(
            web.HTTPUnprocessableEntity,
            [
                (
                    "counts",
                    f"{unknown[0]!r} is not a group of {body.by} ({', '.join(sorted(groups))})",
                )
            ],
        )
    with ledger_refusals():
        counts = _survey(book, body.by) | body.counts
        write_meta(book.db, {f"survey:{body.by}": json.dumps(counts, ensure_ascii=False)})
    note(request, f"摸底总人数 of {body.by} set for {len(body.counts)} group(s)")
    return json_response({"by": body.by, "counts": counts})


async def summary_sheet(request: web.Request) -> web.Response:
    """表1/表2 of `day` as the forms lay them out: `format=html` (printable, default), `csv`
    or `json`; `by=age_group` (default) or `crowd_category`."""
    require(request, Action.UPLOAD_VIEW)
    book = request.app[BOOK]
    day = query_day(request, book)
    by = request.query.get("by", "age_group")
    shape = request.query.get("format", "html")
    if by not in TITLES:
        raise refusal(web.HTTPBadRequest, [("by", f"{by!r}: give age_group or crowd_category")])
    if shape not in {"html", "csv", "json"}:
        raise refusal(web.HTTPBadRequest, [("format", f"{shape!r}: give html, csv or json")])
    with ledger_refusals():
        table = _tables_until(book, book.vaccinations.current_records(), day)[by]
        sheets = summary_sheets(table, book.tables, _survey(book, by))
        name = book.clinic_name()
    if shape == "csv":
        return web.Response(
            body=("\ufeff" + sheets_csv(sheets)).encode("utf-8"),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="summary-{by}-{day}.csv"'},
        )
    if shape == "json":
        return json_response({"day": day.isoformat(), "by": by, "sheets": [
            {"manufacturer": s.manufacturer, "zero_report": s.zero_report, "rows": [
                {"group": r.group, "label": r.label, "survey": r.survey,
                 "doses": [{"today": t, "cumulative": c} for t, c in r.counts]}
                for r in s.rows]}
            for s in sheets]})  # fmt: skip
    page = sheets_html(sheets, unit_name=name, printed_at=book.clock.now())
    return web.Response(text=page, content_type="text/html", charset="utf-8")


async def audit_reads(request: web.Request) -> web.Response:
    """Who read which person's records: `archive_no`, `reader`, `after` (seq), `limit`."""
    require(request, Action.AUDIT_VIEW)
    audit = request.app[AUDIT]
    with ledger_refusals():
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
