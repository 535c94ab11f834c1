"""HTTP routes for holds, excursion impact, quarantine and dispositions; where stock is
(`gateway.web.routes.stock_places`) and the monthly requisition plan
(`gateway.web.routes.requisition`) are put on the app with them. Refusals answer like the other
ledger routes (`gateway.web.routes.ledger_http`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, Field, StringConstraints

from gateway.auth.policy import Action
from gateway.core.errors import GatewayError
from gateway.ledgers.excursion_service import ALARM_SOURCE, ExcursionService, Measured, manual_id
from gateway.storage.ledger.locations import UnitAt
from gateway.storage.ledger.quarantine import Excursion
from gateway.web.access import JSON, Handler, add_route, require
from gateway.web.audit_note import note
from gateway.web.json_http import RequestBody, json_response, parse_body, refusal
from gateway.web.keys import EXCURSIONS
from gateway.web.naming import (
    compartment_name,
    named,
    named_reason,
    person_name,
    with_compartment_name,
)
from gateway.web.query import required_time
from gateway.web.routes.ledger_http import (
    Code,
    Text,
    ledger_refusals,
    reader,
    required_text,
)
from gateway.web.routes.requisition import add_requisition_routes
from gateway.web.routes.stock_places import Scan, add_stock_place_routes
from ledger.holds import Hold
from ledger.requisition_plan import parse_month

# An excursion's source when a person recorded it, before their account's name.
ON_DEMAND = "on demand by "


class ExcursionBody(RequestBody):
    compartment: Text
    start: AwareDatetime
    end: AwareDatetime


class DispositionBody(RequestBody):
    product_id: Code
    batch_no: Code
    code: Scan | None = None
    decision: Literal["usable", "discard"]
    vvm_stage: Annotated[int, Field(ge=1, le=4)] | None = None
    decided_by: Annotated[str, Field(max_length=200)] = ""
    note: Annotated[str, Field(max_length=500)] = ""


class OverrideBody(RequestBody):
    compartment: Text
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


def add_excursion_routes(app: web.Application, service: ExcursionService) -> None:
    app[EXCURSIONS] = service
    add_stock_place_routes(app)
    bodies: dict[Handler, type[RequestBody]] = {
        record_excursion: ExcursionBody,
        dispose: DispositionBody,
        override_hold: OverrideBody,
    }
    queries: dict[Handler, tuple[str, ...]] = {
        impact: ("compartment", "start", "end"),
        proposal: ("product_id", "batch_no", "code", "vvm_stage"),
    }
    for method, path, handler, action in (
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
    ):
        query = queries.get(handler, ())
        add_route(
            app,
            method,
            path,
            handler,
            action,
            body=bodies.get(handler),
            produces=(JSON,),
            query=query,
        )
    add_requisition_routes(app)


# -- holds ---------------------------------------------------------------------------------


async def list_holds(request: web.Request) -> web.Response:
    """The compartments on hold now (an open too-warm, too-cold or probe-fault alarm), each
    with the packages held and the manager's override, if any."""
    reader(request)
    service = request.app[EXCURSIONS]
    with ledger_refusals(request):
        holds = [(hold, service.locations.contents(hold.compartment)) for hold in service.holds()]
    holds_shown = [_hold(request.app, hold, units) for hold, units in holds]
    return json_response({"holds": holds_shown})


async def override_hold(request: web.Request) -> web.Response:
    user = require(request, Action.HOLD_OVERRIDE)
    body = await parse_body(request, OverrideBody)
    service = request.app[EXCURSIONS]
    with ledger_refusals(request):
        hold = service.override_hold(body.compartment, user.name, body.reason)
        units = service.locations.contents(hold.compartment)
    where = f"{compartment_name(request.app, hold.compartment)} ({hold.compartment})"
    note(request, f"overrode the hold on {where} ({hold.alarm}): {body.reason}")
    return json_response(_hold(request.app, hold, units), 201)


def _hold(app: web.Application, hold: Hold, units: list[UnitAt]) -> dict[str, Any]:
    """A hold, its compartment and the overriding manager by name too (the pages show names)."""
    override = hold.override
    return {
        "compartment": hold.compartment,
        "compartment_name": compartment_name(app, hold.compartment),
        "alarm_id": hold.alarm_id,
        "alarm_no": hold.alarm_no,
        "kind": hold.kind,
        "since": hold.since.isoformat(),
        "alarm": hold.alarm,
        "override": None
        if override is None
        else {
            "by": override.who,
            "by_name": person_name(app, override.who),
            "reason": override.reason,
            "at": override.at.isoformat(),
        },
        "packages": len(units),
        "doses": sum(unit.doses_left for unit in units),
        "units": [{"code": u.code, "product_id": u.product_id, "batch_no": u.batch_no,
                   "doses_left": u.doses_left} for u in units],
    }  # fmt: skip


# -- excursions ----------------------------------------------------------------------------


async def list_excursions(request: web.Request) -> web.Response:
    reader(request)
    quarantine = request.app[EXCURSIONS].quarantine
    with ledger_refusals(request):
        found = [quarantine.excursion(x) for x in quarantine.excursion_ids()]
    shown = [_summary(request.app, x) for x in found if x is not None]
    return json_response({"excursions": shown})


async def month_figures(request: web.Request) -> web.Response:
    """Doses exposed in a month, for the county report."""
    reader(request)
    with ledger_refusals(request):
        year, month = parse_month(request.match_info["month"])
        return json_response(request.app[EXCURSIONS].quarantine.month_figures(year, month))


async def show_excursion(request: web.Request) -> web.Response:
    reader(request)
    quarantine = request.app[EXCURSIONS].quarantine
    excursion_id = request.match_info["excursion_id"]
    with ledger_refusals(request):
        excursion = quarantine.excursion(excursion_id)
        if excursion is None:
            raise refusal(web.HTTPNotFound, [("excursion_id", f"{excursion_id} is not recorded")])
        return json_response(_impact(request.app, excursion))


async def record_excursion(request: web.Request) -> web.Response:
    """On demand: measure a window and quarantine what it exposed."""
    user = require(request, Action.EXCURSION_DISPOSITION)
    body = await parse_body(request, ExcursionBody)
    service = request.app[EXCURSIONS]
    excursion_id = manual_id(body.compartment, body.start, body.end)
    with _gateway_refusals(), ledger_refusals(request):
        excursion = service.record(
            excursion_id, body.compartment, body.start, body.end, f"{ON_DEMAND}{user.name}"
        )
    return json_response(_impact(request.app, excursion), 201)


async def impact(request: web.Request) -> web.Response:
    """A preview: what a window exposed, recorded nowhere."""
    reader(request)
    service = request.app[EXCURSIONS]
    compartment = required_text(request, "compartment")
    start, end = required_time(request, "start"), required_time(request, "end")
    with _gateway_refusals(), ledger_refusals(request):
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
    with ledger_refusals(request):
        made = request.app[EXCURSIONS].quarantine.proposal(
            required_text(request, "product_id"), required_text(request, "batch_no"),
            request.query.get("code") or None, None if stage is None else int(stage),
        )  # fmt: skip
    return json_response(made.to_json())


async def dispose(request: web.Request) -> web.Response:
    user = require(request, Action.EXCURSION_DISPOSITION)
    body = await parse_body(request, DispositionBody)
    service = request.app[EXCURSIONS]
    with ledger_refusals(request):
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
    with ledger_refusals(request):
        held = request.app[EXCURSIONS].quarantine.quarantined()
    for item in held:  # why each is held, its ids by name (a decision's author)
        item["reason"] = named_reason(request.app, item["reason"], item["params"])
        item["params"] = named(request.app, item["params"])
    return json_response({"packages": held, "doses": sum(item["doses_left"] for item in held)})


# -- helpers -------------------------------------------------------------------------------


def _measured(measured: Measured) -> dict[str, Any]:
    return {
        "compartment": measured.compartment,
        "exposure": measured.exposure.to_json(),
        "by_thresholds": [
            {"freeze_c": low, "heat_c": high, "exposure": e.to_json()}
            for (low, high), e in measured.by_thresholds.items()
        ],
    }


def _summary(app: web.Application, excursion: Excursion) -> dict[str, Any]:
    return {
        "excursion_id": excursion.excursion_id,
        **with_compartment_name(app, excursion.compartment),
        "start": excursion.start.isoformat(),
        "end": excursion.end.isoformat(),
        "source": excursion.source,
        "source_by_name": _source_person(app, excursion.source),
        "source_alarm": _source_alarm(excursion.source),
        "exposure": excursion.exposure.to_json(),
        "packages": len(excursion.units),
        "batches": len(excursion.batches),
        "doses": excursion.doses,
    }


def _source_person(app: web.Application, source: str) -> str | None:
    """Who recorded an excursion on demand, by name (null for one an alarm recorded)."""
    return (
        person_name(app, source.removeprefix(ON_DEMAND)) if source.startswith(ON_DEMAND) else None
    )


def _source_alarm(source: str) -> int | None:
    """The number of the alarm that recorded an excursion (null for one a person recorded)."""
    number = source.removeprefix(ALARM_SOURCE)
    return int(number) if source.startswith(ALARM_SOURCE) and number.isdigit() else None


def _impact(app: web.Application, excursion: Excursion) -> dict[str, Any]:
    """The excursion with every batch and package it exposed, each batch's proposal and the
    dispositions recorded so far."""
    quarantine = app[EXCURSIONS].quarantine
    batches = []
    for (product_id, batch_no), units in excursion.batches.items():
        made = quarantine.proposal(product_id, batch_no)
        batches.append({
            "product_id": product_id, "batch_no": batch_no,
            "codes": [u.code for u in units], "doses": sum(u.doses_left for u in units),
            "proposal": made.to_json(),
        })  # fmt: skip
    return {
        **_summary(app, excursion),
        "by_thresholds": [
            {"freeze_c": low, "heat_c": high, "exposure": e.to_json()}
            for (low, high), e in excursion.by_thresholds.items()
        ],
        "batch_list": batches,
        "dispositions": quarantine.dispositions(excursion.excursion_id),
    }


@contextmanager
def _gateway_refusals() -> Iterator[None]:
    """A compartment or window the gateway does not know: 422 naming it."""
    try:
        yield
    except GatewayError as error:
        raise refusal(
            web.HTTPUnprocessableEntity, [("compartment", str(error))], code=error.code
        ) from None
