"""HTTP API of the technician's calibration checks and the twice-daily manual record.

- `POST /api/calibrations` (technician): `{"probe", "reference_c", "thermometer"?, "note"?}`,
  judged against the probe's stored reading nearest to now; `GET /api/calibrations?probe=`.
- `POST /api/manual-readings` (vaccine manager, technician): `{"compartment": "F1/冷藏",
  "temperature", "taken_at"?, "note"?}`; `GET /api/manual-readings?month=YYYY-MM&compartment=`;
  `GET /api/manual-readings/sheet?month=&format=html|csv` (the paper 温度记录表);
  `GET /api/manual-readings/missing?month=` (half-days overdue without a record).

The manual record's handlers are in `gateway.web.routes.manual_record`, what both share (the
`Checks` on the app, bodies, refusals) in `gateway.web.routes.checks_http`; this module holds
calibration, the system checks and the health figures, and puts every route on the app.
Refusals answer 4xx in the one refusal shape (`gateway.web.json_http`) as the other routes do;
every entry keeps the signed-in account and the time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, StringConstraints

from gateway.auth.policy import Action, User
from gateway.checks.calibration import CalibrationRefusedError, judge, window_for
from gateway.checks.system_checks import day_checks, responsible
from gateway.core.clinic_time import CLINIC_TZ
from gateway.storage.checks import Calibration, ChecksStoreError
from gateway.web.access import CSV, HTML, JSON, Handler, add_route, require
from gateway.web.json_http import RequestBody, json_response, parse_body, refusal
from gateway.web.naming import person_name, with_compartment_name
from gateway.web.routes.checks_http import (
    CHECKS,
    MAX_LIST,
    Celsius,
    Checks,
    Label,
    Note,
    month_window,
    store_refusals,
)
from gateway.web.routes.manual_record import (
    ManualReadingBody,
    list_manual_readings,
    list_missing,
    manual_sheet,
    missing_json,
    post_manual_reading,
)

_MS = timedelta(milliseconds=1)


class CalibrationBody(RequestBody):
    probe: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    reference_c: Celsius
    thermometer: Label = ""
    note: Note = ""


log = logging.getLogger(__name__)


def add_check_routes(app: web.Application, checks: Checks) -> None:
    app[CHECKS] = checks
    bodies: dict[Handler, type[BaseModel]] = {
        post_calibration: CalibrationBody,
        post_manual_reading: ManualReadingBody,
    }
    queries: dict[Handler, tuple[str, ...]] = {
        list_calibrations: ("probe",),
        list_manual_readings: ("compartment", "month"),
        list_missing: ("month",),
        system_checks: ("month",),
        manual_sheet: ("compartment", "month", "format"),
    }
    for method, path, handler, action in (
        ("POST", "/api/calibrations", post_calibration, Action.CALIBRATION),
        ("GET", "/api/calibrations", list_calibrations, Action.VIEW),
        ("POST", "/api/manual-readings", post_manual_reading, Action.MANUAL_READING),
        ("GET", "/api/manual-readings", list_manual_readings, Action.VIEW),
        ("GET", "/api/manual-readings/sheet", manual_sheet, Action.VIEW),
        ("GET", "/api/manual-readings/missing", list_missing, Action.VIEW),
        ("GET", "/api/system-checks", system_checks, Action.VIEW),
    ):
        produces = (*HTML, *CSV) if handler is manual_sheet else (JSON,)
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


def checks_health(checks: Checks) -> dict[str, Any]:
    """For /api/health: probes that need repair, and today's overdue manual records."""
    now = checks.clock.now()
    today = datetime.combine(now.astimezone(CLINIC_TZ).date(), datetime.min.time(), CLINIC_TZ)
    try:
        repairs = checks.store.needs_repair()
        overdue = checks.missing_between(today, now)
    except ChecksStoreError as error:
        return {"error": str(error), "needs_repair": {}, "manual_readings_missing": []}
    warning = None
    if overdue:
        slots = ", ".join(f"{item.compartment} {item.half.label}" for item in overdue)
        warning = f"manual temperature record missing today: {slots}"
    return {
        "needs_repair": {
            probe: {
                "checked_at": check.checked_at.isoformat(),
                "difference_c": check.difference_c,
                "tolerance_c": check.tolerance_c,
                "who": check.who,
            }
            for probe, check in sorted(repairs.items())
        },
        "manual_readings_missing": [missing_json(item) for item in overdue],
        "warning": warning,
    }


# -- calibration ---------------------------------------------------------------------------


async def post_calibration(request: web.Request) -> web.Response:
    user = require(request, Action.CALIBRATION)
    checks = request.app[CHECKS]
    body = await parse_body(request, CalibrationBody)
    probe = next((item for item in checks.settings.probes if item.code == body.probe), None)
    if probe is None:
        known = ", ".join(item.code for item in checks.settings.probes) or "(none configured)"
        raise refusal(
            web.HTTPUnprocessableEntity,
            [("probe", f"probe {body.probe!r} is not configured; known probes: {known}")],
        )
    _, compartment = checks.settings.compartment(probe.compartment)
    now = checks.clock.now()
    window = window_for(probe.interval_s)
    nearby = checks.readings.readings(probe.code, now - window, now + window + _MS)
    try:
        verdict = judge(
            probe.code, compartment.kind, body.reference_c, at=now, readings=nearby, window=window
        )
    except CalibrationRefusedError as error:
        raise refusal(web.HTTPUnprocessableEntity, [(error.field, error.reason)]) from None
    check = Calibration(
        probe=probe.code,
        compartment=probe.compartment,
        checked_at=now,
        reference_c=body.reference_c,
        probe_c=verdict.probe_c,
        probe_taken_at=verdict.probe_taken_at,
        probe_seq=verdict.probe_seq,
        difference_c=verdict.difference_c,
        tolerance_c=verdict.tolerance_c,
        passed=verdict.passed,
        thermometer=body.thermometer,
        note=body.note,
        who=user.name,
        recorded_at=now,
    )
    with store_refusals():
        stored = checks.store.add_calibration(check)
    return json_response(calibration_json(request.app, stored), status=201)


def calibration_json(app: web.Application, check: Calibration) -> dict[str, Any]:
    """A calibration check, its compartment and who made it by name too."""
    return {
        "id": check.id,
        "probe": check.probe,
        **with_compartment_name(app, check.compartment),
        "checked_at": check.checked_at.isoformat(),
        "reference_c": check.reference_c,
        "probe_c": check.probe_c,
        "probe_taken_at": check.probe_taken_at.isoformat(),
        "difference_c": check.difference_c,
        "tolerance_c": check.tolerance_c,
        "passed": check.passed,
        "needs_repair": not check.passed,
        "thermometer": check.thermometer,
        "note": check.note,
        "who": check.who,
        "who_name": person_name(app, check.who),
        "recorded_at": check.recorded_at.isoformat(),
    }


async def list_calibrations(request: web.Request) -> web.Response:
    require(request, Action.VIEW)
    checks = request.app[CHECKS]
    probe = request.query.get("probe") or None
    with store_refusals():
        rows = checks.store.calibrations(probe, MAX_LIST)
        repairs = checks.store.needs_repair()
    return json_response(
        {
            "calibrations": [calibration_json(request.app, row) for row in rows],
            "needs_repair": sorted(repairs),
        }
    )


async def system_checks(request: web.Request) -> web.Response:
    """The twice-daily system check of each day of `month` up to today: the responsible
    people's looks at the fridges, first and last, and whether they were 6 h apart."""
    require(request, Action.VIEW)
    checks = request.app[CHECKS]
    _, _, since, until = month_window(request, checks)
    now = checks.clock.now()
    last = min(until, now)
    with store_refusals():
        looks = checks.store.looks(since, last)
    days = (
        day_checks(looks, since.astimezone(CLINIC_TZ).date(), last.astimezone(CLINIC_TZ).date())
        if since <= last
        else []
    )
    return json_response(
        {"days": [day.to_json() for day in days], "met": sum(day.met for day in days)}
    )


def note_look(checks: Checks, user: User | None) -> None:
    """Keep a responsible person's look at the fridges (the twice-daily system check); a look
    that cannot be kept is logged, and the fridges are shown all the same."""
    if user is None or user.scope is not None or not responsible(user.roles):
        return
    try:
        checks.store.record_look(user.name, checks.clock.now())
    except ChecksStoreError as error:
        log.warning("a look at the system by %s not recorded: %s", user.name, error)
