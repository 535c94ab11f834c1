"""HTTP routes of the twice-daily manual temperature record: entering a reading, the month's
readings, the half-days overdue, and the paper 温度记录表 (HTML or CSV)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from aiohttp import web
from pydantic import AwareDatetime, StringConstraints

from gateway.auth.policy import Action
from gateway.checks.manual_readings import (
    ManualReading,
    ManualReadingRefusedError,
    Missing,
    check_entry,
    is_excursion,
)
from gateway.checks.manual_sheet import SheetPage, to_csv, to_html
from gateway.web.access import require
from gateway.web.json_http import RequestBody, json_response, parse_body, refusal
from gateway.web.naming import with_compartment_name
from gateway.web.routes.checks_http import (
    CHECKS,
    Celsius,
    Checks,
    Note,
    month_window,
    recorder_name,
    store_refusals,
)

#: The sheet is a self-contained page: no script at all, its own inline style only.
_SHEET_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


class ManualReadingBody(RequestBody):
    compartment: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    temperature: Celsius
    taken_at: AwareDatetime | None = None
    note: Note = ""


async def post_manual_reading(request: web.Request) -> web.Response:
    user = require(request, Action.MANUAL_READING)
    checks = request.app[CHECKS]
    body = await parse_body(request, ManualReadingBody)
    try:
        _, compartment = checks.settings.compartment(body.compartment)
    except KeyError:
        known = ", ".join(checks.compartment_refs()) or "(none configured)"
        raise refusal(
            web.HTTPUnprocessableEntity,
            [("compartment", f"{body.compartment!r} is not a compartment; known: {known}")],
        ) from None
    now = checks.clock.now()
    taken_at = body.taken_at or now
    with store_refusals():
        others = checks.store.manual_between(
            taken_at - timedelta(days=1), taken_at + timedelta(days=1), body.compartment
        )
    try:
        day, half = check_entry(body.compartment, body.temperature, taken_at, now, others)
    except ManualReadingRefusedError as error:
        raise refusal(web.HTTPUnprocessableEntity, [(error.field, error.reason)]) from None
    record = ManualReading(
        compartment=body.compartment,
        day=day,
        half=half,
        taken_at=taken_at,
        temperature=body.temperature,
        excursion=is_excursion(body.temperature, compartment.min_c, compartment.max_c),
        recorder=user.name,
        recorder_name=recorder_name(user),
        recorded_at=now,
        note=body.note,
    )
    with store_refusals():
        stored = checks.store.add_manual(record)
    return json_response(manual_json(request.app, stored), status=201)


def manual_json(app: web.Application, record: ManualReading) -> dict[str, Any]:
    return {
        "id": record.id,
        **with_compartment_name(app, record.compartment),
        "day": record.day.isoformat(),
        "half": record.half.value,
        "half_label": record.half.label,
        "taken_at": record.taken_at.isoformat(),
        "temperature": record.temperature,
        "excursion": record.excursion,
        "recorder": record.recorder,
        "recorder_name": record.recorder_name,
        "recorded_at": record.recorded_at.isoformat(),
        "note": record.note,
    }


def missing_json(item: Missing) -> dict[str, Any]:
    return {
        "compartment": item.compartment,
        "day": item.day.isoformat(),
        "half": item.half.value,
        "half_label": item.half.label,
        "due_at": item.due_at.isoformat(),
    }


def _compartment_query(request: web.Request, checks: Checks) -> str | None:
    ref = request.query.get("compartment") or None
    if ref is not None and ref not in checks.compartment_refs():
        known = ", ".join(checks.compartment_refs()) or "(none configured)"
        raise refusal(
            web.HTTPBadRequest, [("compartment", f"{ref!r} is not a compartment; known: {known}")]
        )
    return ref


async def list_manual_readings(request: web.Request) -> web.Response:
    require(request, Action.VIEW)
    checks = request.app[CHECKS]
    _, _, since, until = month_window(request, checks)
    ref = _compartment_query(request, checks)
    with store_refusals():
        rows = checks.store.manual_between(since, until, ref)
    return json_response({"manual_readings": [manual_json(request.app, row) for row in rows]})


async def list_missing(request: web.Request) -> web.Response:
    require(request, Action.VIEW)
    checks = request.app[CHECKS]
    _, _, since, until = month_window(request, checks)
    with store_refusals():
        items = checks.missing_between(since, min(until, checks.clock.now()))
    shown = [missing_json(item) | with_compartment_name(request.app, item.compartment)
             for item in items]  # fmt: skip
    return json_response({"missing": shown})


async def manual_sheet(request: web.Request) -> web.Response:
    require(request, Action.VIEW)
    checks = request.app[CHECKS]
    year, month, since, until = month_window(request, checks)
    ref = _compartment_query(request, checks)
    kind = request.query.get("format", "html")
    if kind not in {"html", "csv"}:
        raise refusal(web.HTTPBadRequest, [("format", f"{kind!r}: give html or csv")])
    with store_refusals():
        records = checks.store.manual_between(since, until, ref)
    pages = [
        SheetPage(
            f"{fridge.code}/{compartment.name}",
            fridge.name,
            compartment.name,
            compartment.min_c,
            compartment.max_c,
            [item for item in records if item.compartment == f"{fridge.code}/{compartment.name}"],
        )
        for fridge in checks.settings.fridges
        for compartment in fridge.compartments
        if ref is None or ref == f"{fridge.code}/{compartment.name}"
    ]
    if kind == "csv":
        return web.Response(
            text=to_csv(year, month, pages),
            content_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="manual-readings-{year}-{month:02d}'
                '.csv"'
            },
        )
    unit = f"{checks.settings.unit.name} {checks.settings.unit.code}"
    return web.Response(
        text=to_html(unit, year, month, pages),
        content_type="text/html",
        headers={"Content-Security-Policy": _SHEET_CSP},
    )
