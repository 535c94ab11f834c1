"""HTTP routes of the monthly requisition plan: the plan (JSON, CSV or printable HTML), the
stock warnings drawn from it, and its review."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field

from gateway.auth.policy import Action
from gateway.core.clinic_time import CLINIC_TZ
from gateway.ledgers.excursion_service import ExcursionService
from gateway.web.access import CSV, HTML, JSON, add_route, require
from gateway.web.json_http import RequestBody, json_response, parse_body, refusal
from gateway.web.keys import EXCURSIONS
from gateway.web.routes.ledger_http import ledger_refusals, reader
from ledger.requisition_plan import to_csv, to_html
from ledger.stock_warnings import stock_warnings


class ReviewBody(RequestBody):
    note: Annotated[str, Field(max_length=500)] = ""


def add_requisition_routes(app: web.Application) -> None:
    for method, path, handler, action in (
        ("GET", "/api/ledger/stock/warnings", warnings, Action.VIEW),
        ("GET", "/api/ledger/requisition/{month}", requisition, Action.VIEW),
        ("POST", "/api/ledger/requisition/{month}/review", review, Action.STOCK_APPROVE),
    ):
        produces = (JSON, *CSV, *HTML) if handler is requisition else (JSON,)
        query = ("format",) if handler is requisition else ()
        add_route(
            app, method, path, handler, action, body=ReviewBody if handler is review else None,
            produces=produces, query=query,
        )  # fmt: skip


async def requisition(request: web.Request) -> web.StreamResponse:
    """The plan of a month as JSON, or ``?format=csv`` / ``?format=html`` (printable)."""
    reader(request)
    service = request.app[EXCURSIONS]
    month = request.match_info["month"]
    shape = request.query.get("format", "json")
    if shape not in {"json", "csv", "html"}:
        raise refusal(web.HTTPBadRequest, [("format", f"{shape!r}: give json, csv or html")])
    with ledger_refusals(request):
        plan = service.requisitions.plan(month, _held_doses(service))
    if shape == "csv":
        return web.Response(
            text=to_csv(plan), content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="requisition-{month}.csv"'},
        )  # fmt: skip
    if shape == "html":
        page = to_html(plan, service.settings.unit.name)
        return web.Response(text=page, content_type="text/html", charset="utf-8")
    return json_response(plan.to_json())


async def warnings(request: web.Request) -> web.Response:
    """Low- and excess-stock warnings of now, from this month's requisition figures (last
    month's use, the usable stock on hand)."""
    reader(request)
    service = request.app[EXCURSIONS]
    month = service.clock.now().astimezone(CLINIC_TZ).strftime("%Y-%m")
    with ledger_refusals(request):
        plan = service.requisitions.plan(month, _held_doses(service))
    found = stock_warnings(plan)
    return json_response(
        {"month": month, "based_on": plan.based_on, "warnings": [w.to_json() for w in found]}
    )


async def review(request: web.Request) -> web.Response:
    user = require(request, Action.STOCK_APPROVE)
    body = await parse_body(request, ReviewBody)
    service = request.app[EXCURSIONS]
    with ledger_refusals(request):
        plan = service.requisitions.review(
            request.match_info["month"], _held_doses(service),
            reviewed_by=user.display_name or user.name, note=body.note,
        )  # fmt: skip
    return json_response(plan.to_json(), 201)


def _held_doses(service: ExcursionService) -> dict[str, int]:
    return {item["code"]: item["doses_left"] for item in service.quarantine.quarantined()}
