"""HTTP routes for where stock is, excursion impact, quarantine, dispositions and the monthly
requisition plan. Refusals answer like the other ledger routes
(`gateway.web.routes.ledger_http`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from gateway.auth.policy import Action
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.errors import GatewayError
from gateway.ledgers.excursion_service import ExcursionService, Measured, manual_id
from gateway.storage.ledger.locations import UnitAt
from gateway.storage.ledger.quarantine import Excursion
from gateway.web.access import CSV, HTML, JSON, Handler, add_route, require
from gateway.web.audit_note import note
from gateway.web.json_http import json_response, parse_body, refusal
from gateway.web.keys import EXCURSIONS
from gateway.web.query import required_time
from gateway.web.routes.ledger_http import (
    Body,
    Code,
    Text,
    ledger_refusals,
    reader,
)
from ledger.holds import Hold
from ledger.requisition_plan import parse_month, to_csv, to_html
from ledger.stock_warnings import stock_warnings

MAX_CODES = 5_000
#: a scanned package as text: a 20-digit trace code or a GS1 element string (GS as \u001d)
Scan = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class PlacementBody(Body):
    """Packages by their scans, or a whole batch with the number counted on the shelf."""

    compartment: Text
    event_id: Text
    codes: Annotated[tuple[Scan, ...], Field(max_length=MAX_CODES)] = ()
    product_id: Code | None = None
    batch_no: Code | None = None
    packages: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> PlacementBody:
        batch = (self.product_id, self.batch_no, self.packages)
        if self.codes and any(v is not None for v in batch):
            raise ValueError("give codes, or product_id + batch_no + packages, not both")
        if not self.codes and any(v is None for v in batch):
            raise ValueError("give codes, or product_id + batch_no + packages (the count)")
        return self

    def batch(self) -> tuple[str, str, int] | None:
        """(product_id, batch_no, packages) for a whole-batch placement."""
        if self.product_id is None or self.batch_no is None or self.packages is None:
            return None
        return self.product_id, self.batch_no, self.packages


class MoveBody(Body):
    compartment: Text
    event_id: Text
    codes: Annotated[list[Scan], Field(min_length=1, max_length=MAX_CODES)]


class ReceiveIntoBody(Body):
    code: Scan
    compartment: Text
    event_id: Text


class ExcursionBody(Body):
    compartment: Text
    start: AwareDatetime
    end: AwareDatetime


class DispositionBody(Body):
    product_id: Code
    batch_no: Code
    code: Scan | None = None
    decision: Literal["usable", "discard"]
    vvm_stage: Annotated[int, Field(ge=1, le=4)] | None = None
    decided_by: Annotated[str, Field(max_length=200)] = ""
    note: Annotated[str, Field(max_length=500)] = ""


class ReviewBody(Body):
    note: Annotated[str, Field(max_length=500)] = ""


class OverrideBody(Body):
    compartment: Text
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


def add_excursion_routes(app: web.Application, service: ExcursionService) -> None:
    app[EXCURSIONS] = service
    bodies: dict[Handler, type[Body]] = {
        receive_into: ReceiveIntoBody,
        place: PlacementBody,
        move: MoveBody,
        record_excursion: ExcursionBody,
        dispose: DispositionBody,
        review: ReviewBody,
        override_hold: OverrideBody,
    }
    queries: dict[Handler, tuple[str, ...]] = {
        contents: ("compartment", "at"),
        impact: ("compartment", "start", "end"),
        proposal: ("product_id", "batch_no", "code", "vvm_stage"),
        requisition: ("format",),
    }
    for method, path, handler, action in (
        ("POST", "/api/ledger/stock/receive-into", receive_into, Action.STOCK_RECEIVE),
        ("POST", "/api/ledger/stock/placements", place, Action.STOCK_RECEIVE),
        ("POST", "/api/ledger/stock/moves", move, Action.STOCK_RECEIVE),
        ("GET", "/api/ledger/stock/contents", contents, Action.VIEW),
        ("GET", "/api/ledger/holds", list_holds, Action.VIEW),
        ("POST", "/api/ledger/holds/override", override_hold, Action.HOLD_OVERRIDE),
        ("GET", "/api/ledger/excursions", list_excursions, Action.VIEW),
        ("POST", "/api/ledger/excursions", record_excursion, Action.EXCURSION_DISPOSITION),
        ("GET", "/api/ledger/excursions/impact", impact, Action.VIEW),
        ("GET", "/api/ledger/excursions/proposal", proposal, Action.VIEW),
        ("POST", "/api/ledger/excursions/dispositions", dispose, Action.EXCURSION_DISPOSITION),
        ("GET", "/api/ledger/excursions/month/{month}", month_figures, Action.VIEW),
        ("GET", "/api/ledger/excursions/{excursion_id}", show_excursion, Action.VIEW),
        ("GET", "/api/ledger/quarantine", quarantine, Action.VIEW),
        ("GET", "/api/ledger/stock/warnings", warnings, Action.VIEW),
        ("GET", "/api/ledger/requisition/{month}", requisition, Action.VIEW),
        ("POST", "/api/ledger/requisition/{month}/review", review, Action.STOCK_APPROVE),
    ):
        produces = (JSON, *CSV, *HTML) if handler is requisition else (JSON,)
        query = queries.get(handler, ())
        add_route(
            app,
            method,
            path,
            handler,
            action,
            body=bodies.get(handler),
            produces=produces,
            query=query,
        )


# -- where stock is ------------------------------------------------------------------------


async def receive_into(request: web.Request) -> web.Response:
    user = require(request, Action.STOCK_RECEIVE)
    body = await parse_body(request, ReceiveIntoBody)
    with ledger_refusals():
        received, placed = request.app[EXCURSIONS].locations.receive_into(
            body.code, body.compartment, event_id=body.event_id, actor=user.name
        )
    status = 200 if received.duplicate else 201
    return json_response({"code": received.code, "compartment": placed.compartment}, status)


async def place(request: web.Request) -> web.Response:
    user = require(request, Action.STOCK_RECEIVE)
    body = await parse_body(request, PlacementBody)
    locations = request.app[EXCURSIONS].locations
    batch = body.batch()
    with ledger_refusals():
        if batch is None:
            placed = locations.place(
                body.codes, body.compartment, event_id=body.event_id, actor=user.name
            )
        else:
            placed = locations.place_batch(
                *batch[:2], body.compartment, packages=batch[2], event_id=body.event_id,
                actor=user.name,
            )  # fmt: skip
    return json_response(
        _placement(placed.compartment, placed.codes), 200 if placed.duplicate else 201
    )


async def move(request: web.Request) -> web.Response:
    user = require(request, Action.STOCK_RECEIVE)
    body = await parse_body(request, MoveBody)
    with ledger_refusals():
        moved = request.app[EXCURSIONS].locations.move(
            body.codes, body.compartment, event_id=body.event_id, actor=user.name
        )
    return json_response(
        _placement(moved.compartment, moved.codes), 200 if moved.duplicate else 201
    )


async def contents(request: web.Request) -> web.Response:
    reader(request)
    compartment = _required(request, "compartment")
    at = required_time(request, "at") if "at" in request.query else None
    service = request.app[EXCURSIONS]
    with ledger_refusals():
        units = service.locations.contents(compartment, at)
    return json_response({
        "compartment": compartment,
        "at": (at or service.clock.now()).isoformat(),
        "packages": len(units),
        "doses": sum(u.doses_left for u in units),
        "units": [{"code": u.code, "product_id": u.product_id, "batch_no": u.batch_no,
                   "doses_left": u.doses_left} for u in units],
    })  # fmt: skip


# -- holds ---------------------------------------------------------------------------------


async def list_holds(request: web.Request) -> web.Response:
    """The compartments on hold now (an open too-warm, too-cold or probe-fault alarm), each
    with the packages held and the manager's override, if any."""
    reader(request)
    service = request.app[EXCURSIONS]
    with ledger_refusals():
        holds = [(hold, service.locations.contents(hold.compartment)) for hold in service.holds()]
    return json_response({"holds": [_hold(hold, units) for hold, units in holds]})


async def override_hold(request: web.Request) -> web.Response:
    user = require(request, Action.HOLD_OVERRIDE)
    body = await parse_body(request, OverrideBody)
    service = request.app[EXCURSIONS]
    with ledger_refusals():
        hold = service.override_hold(body.compartment, user.name, body.reason)
        units = service.locations.contents(hold.compartment)
    note(request, f"overrode the hold on {hold.compartment} ({hold.alarm}): {body.reason}")
    return json_response(_hold(hold, units), 201)


def _hold(hold: Hold, units: list[UnitAt]) -> dict[str, Any]:
    override = hold.override
    return {
        "compartment": hold.compartment,
        "alarm_id": hold.alarm_id,
        "alarm_no": hold.alarm_no,
        "kind": hold.kind,
        "since": hold.since.isoformat(),
        "alarm": hold.alarm,
        "override": None
        if override is None
        else {"by": override.who, "reason": override.reason, "at": override.at.isoformat()},
        "packages": len(units),
        "doses": sum(unit.doses_left for unit in units),
        "units": [{"code": u.code, "product_id": u.product_id, "batch_no": u.batch_no,
                   "doses_left": u.doses_left} for u in units],
    }  # fmt: skip


# -- excursions ----------------------------------------------------------------------------


async def list_excursions(request: web.Request) -> web.Response:
    reader(request)
    quarantine = request.app[EXCURSIONS].quarantine
    with ledger_refusals():
        found = [quarantine.excursion(x) for x in quarantine.excursion_ids()]
    return json_response({"excursions": [_summary(x) for x in found if x is not None]})


async def month_figures(request: web.Request) -> web.Response:
    """Doses exposed in a month, for the county report."""
    reader(request)
    with ledger_refusals():
        year, month = parse_month(request.match_info["month"])
        return json_response(request.app[EXCURSIONS].quarantine.month_figures(year, month))


async def show_excursion(request: web.Request) -> web.Response:
    reader(request)
    quarantine = request.app[EXCURSIONS].quarantine
    excursion_id = request.match_info["excursion_id"]
    with ledger_refusals():
        excursion = quarantine.excursion(excursion_id)
        if excursion is None:
            raise refusal(web.HTTPNotFound, [("excursion_id", f"{excursion_id} is not recorded")])
        return json_response(_impact(request.app[EXCURSIONS], excursion))


async def record_excursion(request: web.Request) -> web.Response:
    """On demand: measure a window and quarantine what it exposed."""
    user = require(request, Action.EXCURSION_DISPOSITION)
    body = await parse_body(request, ExcursionBody)
    service = request.app[EXCURSIONS]
    excursion_id = manual_id(body.compartment, body.start, body.end)
    with _gateway_refusals(), ledger_refusals():
        excursion = service.record(
            excursion_id, body.compartment, body.start, body.end, f"on demand by {user.name}"
        )
    return json_response(_impact(service, excursion), 201)


async def impact(request: web.Request) -> web.Response:
    """A preview: what a window exposed, recorded nowhere."""
    reader(request)
    service = request.app[EXCURSIONS]
    compartment = _required(request, "compartment")
    start, end = required_time(request, "start"), required_time(request, "end")
    with _gateway_refusals(), ledger_refusals():
        measured = service.measure(compartment, start, end)
        units = service.locations.present_during(compartment, start, end)
    return json_response({
        **_measured(measured),
        "units": [{"code": u.code, "product_id": u.product_id, "batch_no": u.batch_no,
                   "doses_left": u.doses_left} for u in units],
    })  # fmt: skip


async def proposal(request: web.Request) -> web.Response:
    reader(request)
    stage = request.query.get("vvm_stage")
    if stage is not None and stage not in {"1", "2", "3", "4"}:
        raise refusal(web.HTTPBadRequest, [("vvm_stage", f"{stage!r}: give 1, 2, 3 or 4")])
    with ledger_refusals():
        made = request.app[EXCURSIONS].quarantine.proposal(
            _required(request, "product_id"), _required(request, "batch_no"),
            request.query.get("code") or None, None if stage is None else int(stage),
        )  # fmt: skip
    return json_response(made.to_json())


async def dispose(request: web.Request) -> web.Response:
    user = require(request, Action.EXCURSION_DISPOSITION)
    body = await parse_body(request, DispositionBody)
    service = request.app[EXCURSIONS]
    with ledger_refusals():
        code = service.locations.stock.resolve_scan(body.code).code if body.code else None
        done = service.quarantine.dispose(
            body.product_id, body.batch_no, code=code, decision=body.decision,
            vvm_stage=body.vvm_stage, decided_by=body.decided_by, recorded_by=user.name,
            note=body.note,
        )  # fmt: skip
    return json_response(
        {"excursions": list(done.excursions), "decision": done.decision,
         "decided_by": done.decided_by, "proposal": done.proposal.to_json(),
         "scrap_approval_id": done.approval_id},
        201,
    )  # fmt: skip


async def quarantine(request: web.Request) -> web.Response:
    reader(request)
    with ledger_refusals():
        held = request.app[EXCURSIONS].quarantine.quarantined()
    return json_response({"packages": held, "doses": sum(item["doses_left"] for item in held)})


# -- requisition ---------------------------------------------------------------------------


async def requisition(request: web.Request) -> web.StreamResponse:
    """The plan of a month as JSON, or ``?format=csv`` / ``?format=html`` (printable)."""
    reader(request)
    service = request.app[EXCURSIONS]
    month = request.match_info["month"]
    shape = request.query.get("format", "json")
    if shape not in {"json", "csv", "html"}:
        raise refusal(web.HTTPBadRequest, [("format", f"{shape!r}: give json, csv or html")])
    with ledger_refusals():
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
    with ledger_refusals():
        plan = service.requisitions.plan(month, _held_doses(service))
    found = stock_warnings(plan)
    return json_response(
        {"month": month, "based_on": plan.based_on, "warnings": [w.to_json() for w in found]}
    )


async def review(request: web.Request) -> web.Response:
    user = require(request, Action.STOCK_APPROVE)
    body = await parse_body(request, ReviewBody)
    service = request.app[EXCURSIONS]
    with ledger_refusals():
        plan = service.requisitions.review(
            request.match_info["month"], _held_doses(service),
            reviewed_by=user.display_name or user.name, note=body.note,
        )  # fmt: skip
    return json_response(plan.to_json(), 201)


# -- helpers -------------------------------------------------------------------------------


def _held_doses(service: ExcursionService) -> dict[str, int]:
    return {item["code"]: item["doses_left"] for item in service.quarantine.quarantined()}


def _placement(compartment: str, codes: tuple[str, ...]) -> dict[str, Any]:
    return {"compartment": compartment, "codes": list(codes), "packages": len(codes)}


def _measured(measured: Measured) -> dict[str, Any]:
    return {
        "compartment": measured.compartment,
        "exposure": measured.exposure.to_json(),
        "by_thresholds": [
            {"freeze_c": low, "heat_c": high, "exposure": e.to_json()}
            for (low, high), e in measured.by_thresholds.items()
        ],
    }


def _summary(excursion: Excursion) -> dict[str, Any]:
    return {
        "excursion_id": excursion.excursion_id,
        "compartment": excursion.compartment,
        "start": excursion.start.isoformat(),
        "end": excursion.end.isoformat(),
        "source": excursion.source,
        "exposure": excursion.exposure.to_json(),
        "packages": len(excursion.units),
        "batches": len(excursion.batches),
        "doses": excursion.doses,
    }


def _impact(service: ExcursionService, excursion: Excursion) -> dict[str, Any]:
    """The excursion with every batch and package it exposed, each batch's proposal and the
    dispositions recorded so far."""
    quarantine = service.quarantine
    batches = []
    for (product_id, batch_no), units in excursion.batches.items():
        made = quarantine.proposal(product_id, batch_no)
        batches.append({
            "product_id": product_id, "batch_no": batch_no,
            "codes": [u.code for u in units], "doses": sum(u.doses_left for u in units),
            "proposal": made.to_json(),
        })  # fmt: skip
    return {
        **_summary(excursion),
        "by_thresholds": [
            {"freeze_c": low, "heat_c": high, "exposure": e.to_json()}
            for (low, high), e in excursion.by_thresholds.items()
        ],
        "batch_list": batches,
        "dispositions": quarantine.dispositions(excursion.excursion_id),
    }


def _required(request: web.Request, name: str) -> str:
    value = request.query.get(name, "").strip()
    if not value:
        raise refusal(web.HTTPBadRequest, [(name, "missing: this query parameter is required")])
    return value


@contextmanager
def _gateway_refusals() -> Iterator[None]:
    """A compartment or window the gateway does not know: 422 naming it."""
    try:
        yield
    except GatewayError as error:
        raise refusal(
            web.HTTPUnprocessableEntity, [("compartment", str(error))], code=error.code
        ) from None
