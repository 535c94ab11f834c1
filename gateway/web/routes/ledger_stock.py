"""HTTP routes of the stock ledger: movements by scan, approvals, stocktake, balances, reports.

Every movement carries the client's scan event id (`event_id`): the same request again has one
effect and answers 200 with ``duplicate: true``; a first effect answers 201. The signed-in
user's name is the actor of every movement.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field

from gateway.auth.policy import Action
from gateway.core.clinic_time import CLINIC_TZ
from gateway.storage.ledger import queries
from gateway.storage.ledger.stock_values import EventResult, SummaryIssue
from gateway.web.access import add_route, require
from gateway.web.audit_note import note
from gateway.web.json_http import RequestBody, json_response, parse_body
from gateway.web.naming import person_name
from gateway.web.query import query_month
from gateway.web.routes.ledger_http import (
    BOOK,
    MAX_SCANS,
    ScanBody,
    Scanned,
    Text,
    decode_scan,
    iso,
    ledger_refusals,
    not_found,
    query_day,
    reader,
)
from ledger.batch_field import check_batch
from ledger.stock_errors import PackageNotReceivedError


class IssueBody(ScanBody):
    to_unit: Text


class ApprovalRequestBody(RequestBody):
    """A return up to `to_unit`, a scrap with its `reason_code` (疫苗报废原因代码), or a
    same-level issue to `to_unit`: each waits for the upper level's approval."""

    kind: Literal["return", "scrap", "issue"]
    scans: Annotated[list[Scanned], Field(min_length=1, max_length=MAX_SCANS)]
    encoding: Literal["text", "base64"] = "text"
    approval_id: Text
    reason: Text
    to_unit: Annotated[str, Field(max_length=32)] = ""
    reason_code: Annotated[str, Field(max_length=8)] = ""


class DecisionBody(RequestBody):
    approve: bool


class StocktakeBody(RequestBody):
    scans: Annotated[list[Scanned], Field(max_length=MAX_SCANS)]
    encoding: Literal["text", "base64"] = "text"


class AdjustmentBody(RequestBody):
    product_id: Text
    batch_no: Text
    packages: int
    doses: int
    reason: Text
    event_id: Text


class SummaryIssueBody(RequestBody):
    """Close this vaccination day (default today)."""

    day: date | None = None


def add_stock_routes(app: web.Application) -> None:
    stock = "/api/ledger/stock"
    add_route(app, "POST", f"{stock}/receive", receive, Action.STOCK_RECEIVE, body=ScanBody)
    add_route(app, "POST", f"{stock}/issue", issue, Action.STOCK_ISSUE, body=IssueBody)
    add_route(app, "POST", f"{stock}/administer", administer, Action.ADMINISTER, body=ScanBody)
    add_route(
        app,
        "POST",
        f"{stock}/requests",
        request_approval,
        Action.STOCK_REQUEST,
        body=ApprovalRequestBody,
    )
    add_route(app, "GET", f"{stock}/requests", approval_requests, Action.VIEW)
    add_route(
        app,
        "POST",
        f"{stock}/requests/{{approval_id}}/decision",
        decide,
        Action.STOCK_APPROVE,
        body=DecisionBody,
    )
    add_route(app, "POST", f"{stock}/stocktake", stocktake, Action.STOCKTAKE, body=StocktakeBody)
    add_route(app, "POST", f"{stock}/adjustments", adjust, Action.STOCKTAKE, body=AdjustmentBody)
    add_route(
        app,
        "POST",
        f"{stock}/summary-issue",
        summary_issue,
        Action.STOCK_ISSUE,
        body=SummaryIssueBody,
    )
    add_route(
        app, "GET", f"{stock}/summary-issue", stored_summary_issue, Action.VIEW, query=("day",)
    )
    add_route(app, "GET", f"{stock}/balances", balances, Action.VIEW)
    add_route(app, "GET", f"{stock}/packages/{{code}}", package, Action.VIEW)
    add_route(app, "GET", f"{stock}/wastage", wastage, Action.VIEW, query=("month",))


def _event(request: web.Request, result: EventResult) -> web.Response:
    again = " again: no change" if result.duplicate else ""
    note(request, f"{result.kind} {result.code or ''} (event {result.event_id}){again}")
    body = {
        "event_id": result.event_id,
        "kind": result.kind,
        "code": result.code,
        "duplicate": result.duplicate,
        "unverified": result.unverified,
    }
    return json_response(body, status=200 if result.duplicate else 201)


async def receive(request: web.Request) -> web.Response:
    user = require(request, Action.STOCK_RECEIVE)
    body = await parse_body(request, ScanBody)
    with ledger_refusals(request):
        result = request.app[BOOK].stock.receive(
            body.raw(), event_id=body.event_id, actor=user.name
        )
    return _event(request, result)


async def issue(request: web.Request) -> web.Response:
    user = require(request, Action.STOCK_ISSUE)
    body = await parse_body(request, IssueBody)
    with ledger_refusals(request):
        result = request.app[BOOK].stock.issue(
            body.raw(), event_id=body.event_id, actor=user.name, to_unit=body.to_unit
        )
    return _event(request, result)


async def administer(request: web.Request) -> web.Response:
    """扫码接种 without a record: the stock side of a dose (the record route does both)."""
    user = require(request, Action.ADMINISTER)
    body = await parse_body(request, ScanBody)
    with ledger_refusals(request):
        result = request.app[BOOK].stock.administer(
            body.raw(), event_id=body.event_id, actor=user.name
        )
    return _event(request, result)


async def request_approval(request: web.Request) -> web.Response:
    """Ask the upper level to approve a return, a scrap or a same-level issue; the packages
    are held meanwhile."""
    user = require(request, Action.STOCK_REQUEST)
    body = await parse_body(request, ApprovalRequestBody)
    scans = [decode_scan(value, body.encoding, f"scans.{n}") for n, value in enumerate(body.scans)]
    with ledger_refusals(request):
        approval_id = request.app[BOOK].stock.request(
            body.kind,
            scans,
            approval_id=body.approval_id,
            actor=user.name,
            reason=body.reason,
            to_unit=body.to_unit,
            reason_code=body.reason_code,
        )
    note(request, f"asked to {body.kind} {len(scans)} package(s): approval {approval_id}")
    return json_response({"approval_id": approval_id, "kind": body.kind, "state": "pending"}, 201)


async def approval_requests(request: web.Request) -> web.Response:
    """Returns, scraps and same-level issues asked for, newest first, with their decision
    (null: pending)."""
    reader(request)
    with ledger_refusals(request):
        found = queries.approval_requests(request.app[BOOK].db)
    requests = [
        {
            "approval_id": item.approval_id,
            "kind": item.kind,
            "codes": item.codes,
            "requested_by": item.requested_by,
            "requested_by_name": person_name(request.app, item.requested_by),
            "requested_at": item.requested_at.isoformat(),
            "reason": item.reason,
            "to_unit": item.to_unit,
            "reason_code": item.reason_code,
            "decision": item.decision,
            "decided_by": item.decided_by,
            "decided_by_name": None
            if item.decided_by is None
            else person_name(request.app, item.decided_by),
            "decided_at": iso(item.decided_at),
        }
        for item in found
    ]
    return json_response({"requests": requests})


async def decide(request: web.Request) -> web.Response:
    user = require(request, Action.STOCK_APPROVE)
    body = await parse_body(request, DecisionBody)
    approval_id = request.match_info["approval_id"]
    with ledger_refusals(request):
        events = request.app[BOOK].stock.decide(
            approval_id, approve=body.approve, approver=user.name
        )
    decision = "approved" if body.approve else "rejected"
    note(request, f"{decision} {approval_id}: {len(events)} movement(s)")
    return json_response(
        {
            "approval_id": approval_id,
            "decision": decision,
            "events": [{"event_id": e.event_id, "kind": e.kind, "code": e.code} for e in events],
        }
    )


def _counts(table: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    return [
        {"product_id": product, "batch_no": batch, "packages": count}
        for (product, batch), count in sorted(table.items())
    ]


async def stocktake(request: web.Request) -> web.Response:
    """盘点: the scanned packages against the books (账苗一致); changes nothing."""
    require(request, Action.STOCKTAKE)
    body = await parse_body(request, StocktakeBody)
    scans = [decode_scan(value, body.encoding, f"scans.{n}") for n, value in enumerate(body.scans)]
    with ledger_refusals(request):
        report = request.app[BOOK].stock.stocktake(scans)
    found = (
        "consistent"
        if report.consistent
        else (f"{len(report.missing)} missing, {len(report.unexpected)} unexpected")
    )
    note(request, f"stocktake of {len(scans)} scan(s): {found}")
    return json_response(
        {
            "consistent": report.consistent,
            "book": _counts(report.book),
            "physical": _counts(report.physical),
            "missing": list(report.missing),
            "unexpected": list(report.unexpected),
        }
    )


async def adjust(request: web.Request) -> web.Response:
    user = require(request, Action.STOCKTAKE)
    body = await parse_body(request, AdjustmentBody)
    with ledger_refusals(request):
        batch_no = check_batch(body.batch_no)
        result = request.app[BOOK].stock.adjust(
            body.product_id,
            batch_no,
            packages=body.packages,
            doses=body.doses,
            reason=body.reason,
            event_id=body.event_id,
            actor=user.name,
        )
    return _event(request, result)


def _lines(lines: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    return [
        {"product_id": product, "batch_no": batch, "doses": doses}
        for (product, batch), doses in sorted(lines.items())
    ]


def _summary_json(summary: SummaryIssue) -> dict[str, Any]:
    return {
        "day": summary.day.isoformat(),
        "lines": _lines(summary.lines),
        "parts": [
            {
                "part": part.part,
                "supplementary": part.part > 1,
                "at": part.at.isoformat(),
                "actor": part.actor,
                "lines": _lines(part.lines),
            }
            for part in summary.parts
        ],
        "duplicate": summary.duplicate,
    }


async def summary_issue(request: web.Request) -> web.Response:
    """Close the vaccination day (default today): its 汇总出库, the doses given per product and
    batch, stored once; asked again, what was stored (with any supplementary issue)."""
    user = require(request, Action.STOCK_ISSUE)
    body = await parse_body(request, SummaryIssueBody)
    book = request.app[BOOK]
    day = body.day or book.clock.now().astimezone(CLINIC_TZ).date()
    with ledger_refusals(request):
        summary = book.stock.close_day(day, actor=user.name)
    again = " again: no change" if summary.duplicate else ""
    note(request, f"closed the vaccination day {day.isoformat()} (汇总出库){again}")
    return json_response(_summary_json(summary), status=200 if summary.duplicate else 201)


async def stored_summary_issue(request: web.Request) -> web.Response:
    """The stored 汇总出库 of `day` (default today) and its supplementary issues; 404 while
    the day is open."""
    reader(request)
    book = request.app[BOOK]
    day = query_day(request, book)
    with ledger_refusals(request):
        summary = book.stock.summary_issue(day)
    if summary is None:
        raise not_found("day", f"{day} is not closed yet: no 汇总出库 was stored")
    return json_response(_summary_json(summary))


async def balances(request: web.Request) -> web.Response:
    reader(request)
    book = request.app[BOOK]
    rows = []
    with ledger_refusals(request):
        for balance in book.stock.balances():
            product = book.catalogue.product(balance.product_id)
            batch = book.catalogue.batch(balance.product_id, balance.batch_no)
            rows.append(
                {
                    "product_id": balance.product_id,
                    "name": product.name if product else None,
                    "vaccine_code": product.vaccine_code if product else None,
                    "batch_no": balance.batch_no,
                    "expiry_date": batch.expiry_date.isoformat() if batch else None,
                    "packages": balance.packages,
                    "doses": balance.doses,
                }
            )
    return json_response({"balances": rows})


async def package(request: web.Request) -> web.Response:
    """A package's lifecycle: its state now and every movement, oldest first."""
    reader(request)
    book = request.app[BOOK]
    code = request.match_info["code"]
    with ledger_refusals(request):
        try:
            state = book.stock.state(code)
        except PackageNotReceivedError as error:
            raise not_found(error.field, error.reason) from None
        found = queries.movements(book.db, code)
    events = [
        {
            "seq": item.seq,
            "event_id": item.event_id,
            "kind": item.kind,
            "doses": item.doses,
            "packages": item.packages,
            "at": item.at.isoformat(),
            "actor": item.actor,
            "reason": item.reason,
            "ref": item.ref,
        }
        for item in found
    ]
    return json_response(
        {
            "code": state.code,
            "product_id": state.product_id,
            "batch_no": state.batch_no,
            "state": state.state,
            "doses_left": state.doses_left,
            "opened_at": iso(state.opened_at),
            "discard_at": iso(state.discard_at),
            "held_by": state.held_by,
            "movements": events,
        }
    )


async def wastage(request: web.Request) -> web.Response:
    """疫苗损耗系数 per vaccine for `month` (YYYY-MM, default this month)."""
    reader(request)
    book = request.app[BOOK]
    text, year, month = query_month(request, book.clock.now())
    with ledger_refusals(request):
        coefficients = book.stock.wastage_coefficients(year, month)
    return json_response({"month": text, "coefficients": coefficients})
