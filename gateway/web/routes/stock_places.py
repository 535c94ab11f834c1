"""HTTP routes for where stock is: receiving into a compartment, placing and moving packages,
what a compartment holds (now or at a moment)."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, StringConstraints, model_validator

from gateway.auth.policy import Action
from gateway.web.access import JSON, Handler, add_route, require
from gateway.web.json_http import RequestBody, json_response, parse_body
from gateway.web.keys import EXCURSIONS
from gateway.web.naming import with_compartment_name
from gateway.web.query import required_time
from gateway.web.routes.ledger_http import Code, Text, ledger_refusals, reader, required_text

MAX_CODES = 5_000
#: a scanned package as text: a 20-digit trace code or a GS1 element string (GS as \u001d)
Scan = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class PlacementBody(RequestBody):
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


class MoveBody(RequestBody):
    compartment: Text
    event_id: Text
    codes: Annotated[list[Scan], Field(min_length=1, max_length=MAX_CODES)]


class ReceiveIntoBody(RequestBody):
    code: Scan
    compartment: Text
    event_id: Text


def add_stock_place_routes(app: web.Application) -> None:
    bodies: dict[Handler, type[RequestBody]] = {
        receive_into: ReceiveIntoBody,
        place: PlacementBody,
        move: MoveBody,
    }
    for method, path, handler, action in (
        ("POST", "/api/ledger/stock/receive-into", receive_into, Action.STOCK_RECEIVE),
        ("POST", "/api/ledger/stock/placements", place, Action.STOCK_RECEIVE),
        ("POST", "/api/ledger/stock/moves", move, Action.STOCK_RECEIVE),
        ("GET", "/api/ledger/stock/contents", contents, Action.VIEW),
    ):
        query = ("compartment", "at") if handler is contents else ()
        add_route(
            app, method, path, handler, action, body=bodies.get(handler), produces=(JSON,),
            query=query,
        )  # fmt: skip


async def receive_into(request: web.Request) -> web.Response:
    user = require(request, Action.STOCK_RECEIVE)
    body = await parse_body(request, ReceiveIntoBody)
    with ledger_refusals(request):
        received, placed = request.app[EXCURSIONS].locations.receive_into(
            body.code, body.compartment, event_id=body.event_id, actor=user.name
        )
    status = 200 if received.duplicate else 201
    answer = {"code": received.code} | with_compartment_name(request.app, placed.compartment)
    return json_response(answer, status)


async def place(request: web.Request) -> web.Response:
    user = require(request, Action.STOCK_RECEIVE)
    body = await parse_body(request, PlacementBody)
    locations = request.app[EXCURSIONS].locations
    batch = body.batch()
    with ledger_refusals(request):
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
        _placement(request.app, placed.compartment, placed.codes),
        200 if placed.duplicate else 201,
    )


async def move(request: web.Request) -> web.Response:
    user = require(request, Action.STOCK_RECEIVE)
    body = await parse_body(request, MoveBody)
    with ledger_refusals(request):
        moved = request.app[EXCURSIONS].locations.move(
            body.codes, body.compartment, event_id=body.event_id, actor=user.name
        )
    return json_response(
        _placement(request.app, moved.compartment, moved.codes),
        200 if moved.duplicate else 201,
    )


async def contents(request: web.Request) -> web.Response:
    reader(request)
    compartment = required_text(request, "compartment")
    at = required_time(request, "at") if "at" in request.query else None
    service = request.app[EXCURSIONS]
    with ledger_refusals(request):
        units = service.locations.contents(compartment, at)
    return json_response({
        **with_compartment_name(request.app, compartment),
        "at": (at or service.clock.now()).isoformat(),
        "packages": len(units),
        "doses": sum(u.doses_left for u in units),
        "units": [{"code": u.code, "product_id": u.product_id, "batch_no": u.batch_no,
                   "doses_left": u.doses_left} for u in units],
    })  # fmt: skip


def _placement(app: web.Application, compartment: str, codes: tuple[str, ...]) -> dict[str, Any]:
    return with_compartment_name(app, compartment) | {"codes": list(codes), "packages": len(codes)}
