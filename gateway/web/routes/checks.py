"""HTTP API of the technician's calibration checks and the twice-daily manual record.

- `POST /api/calibrations` (technician): `{"probe", "reference_c", "thermometer"?, "note"?}`,
  judged against the probe's stored reading nearest to now; `GET /api/calibrations?probe=`.
- `POST /api/manual-readings` (vaccine manager, technician): `{"compartment": "F1/冷藏",
  "temperature", "taken_at"?, "note"?}`; `GET /api/manual-readings?month=YYYY-MM&compartment=`;
  `GET /api/manual-readings/sheet?month=&format=html|csv` (the paper 温度记录表);
  `GET /api/manual-readings/missing?month=` (half-days overdue without a record).

Refusals answer 4xx in the one refusal shape (`gateway.web.json_http`) as the other routes do;
every entry keeps the signed-in account and the time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from gateway.auth.policy import Action, User
from gateway.checks.calibration import CalibrationRefusedError, judge, window_for
from gateway.checks.manual_readings import (
    ManualReading,
    ManualReadingRefusedError,
    Missing,
    check_entry,
    is_excursion,
    missing,
)
from gateway.checks.manual_sheet import SheetPage, to_csv, to_html
from gateway.checks.system_checks import day_checks, responsible
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import Clock
from gateway.settings import Settings
from gateway.storage.checks import (
    Calibration,
    ChecksStore,
    ChecksStoreError,
    DuplicateRecordError,
)
from gateway.storage.readings import ReadingStore
from gateway.web.access import CSV, HTML, JSON, Handler, add_route, require
from gateway.web.json_http import json_response, parse_body, refusal

MAX_LIST = 2000
_MS = timedelta(milliseconds=1)
#: The sheet is a self-contained page: no script at all, its own inline style only.
_SHEET_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"

_B = TypeVar("_B", bound="Body")

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Celsius = Annotated[float, Field(allow_inf_nan=False)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CalibrationBody(Body):
    probe: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    reference_c: Celsius
    thermometer: Label = ""
    note: Note = ""


class ManualReadingBody(Body):
    compartment: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    temperature: Celsius
    taken_at: AwareDatetime | None = None
    note: Note = ""


@dataclass(slots=True)
class Checks:
    """What the handlers need: the checks file, the configuration in force, the readings, the
    clock. A reload hands the new settings to `reconfigure`: a probe bound a moment ago can be
    checked at once."""

    store: ChecksStore
    settings: Settings
    readings: ReadingStore
    clock: Clock

    name = "checks"

    async def reconfigure(self, settings: Settings) -> None:
        self.settings = settings

    def compartment_refs(self) -> list[str]:
        return [
            f"{fridge.code}/{compartment.name}"
            for fridge in self.settings.fridges
            for compartment in fridge.compartments
        ]

    def missing_between(self, since: datetime, until: datetime) -> list[Missing]:
        start = max(since, self.store.first_opened_at)
        if start > until:
            return []
        first = start.astimezone(CLINIC_TZ).date()
        last = until.astimezone(CLINIC_TZ).date()
        recorded = self.store.manual_days(first, last)
        return missing(recorded, self.compartment_refs(), start, until)


CHECKS = web.AppKey("checks", Checks)
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


@contextmanager
def _store_refusals() -> Iterator[None]:
    try:
        yield
    except DuplicateRecordError:
        raise refusal(
            web.HTTPConflict,
            [("taken_at", "that half-day already has its record")],
            code="record_exists",
        ) from None
    except ChecksStoreError as error:
        raise refusal(
            web.HTTPServiceUnavailable, [("store", str(error))], code=error.code
        ) from None


def _recorder_name(user: User) -> str:
    return user.display_name or user.name


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
    with _store_refusals():
        stored = checks.store.add_calibration(check)
    return json_response(calibration_json(stored), status=201)


def calibration_json(check: Calibration) -> dict[str, Any]:
    return {
        "id": check.id,
        "probe": check.probe,
        "compartment": check.compartment,
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
        "recorded_at": check.recorded_at.isoformat(),
    }


async def list_calibrations(request: web.Request) -> web.Response:
    require(request, Action.VIEW)
    checks = request.app[CHECKS]
    probe = request.query.get("probe") or None
    with _store_refusals():
        rows = checks.store.calibrations(probe, MAX_LIST)
        repairs = checks.store.needs_repair()
    return json_response(
        {
            "calibrations": [calibration_json(row) for row in rows],
            "needs_repair": sorted(repairs),
        }
    )


# -- the manual record ---------------------------------------------------------------------


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
    with _store_refusals():
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
        recorder_name=_recorder_name(user),
        recorded_at=now,
        note=body.note,
    )
    with _store_refusals():
        stored = checks.store.add_manual(record)
    return json_response(manual_json(stored), status=201)


def manual_json(record: ManualReading) -> dict[str, Any]:
    return {
        "id": record.id,
        "compartment": record.compartment,
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


def _month(request: web.Request, checks: Checks) -> tuple[int, int, datetime, datetime]:
    """The `month` query (YYYY-MM, default this month in China) and its bounds."""
    text = request.query.get("month") or checks.clock.now().astimezone(CLINIC_TZ).strftime("%Y-%m")
    try:
        first = date.fromisoformat(f"{text}-01")
    except ValueError:
        raise refusal(
            web.HTTPBadRequest, [("month", f"{text!r} is not a month; write YYYY-MM")]
        ) from None
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    since = datetime.combine(first, datetime.min.time(), CLINIC_TZ)
    until = datetime.combine(following, datetime.min.time(), CLINIC_TZ)
    return first.year, first.month, since, until


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
    _, _, since, until = _month(request, checks)
    ref = _compartment_query(request, checks)
    with _store_refusals():
        rows = checks.store.manual_between(since, until, ref)
    return json_response({"manual_readings": [manual_json(row) for row in rows]})


async def list_missing(request: web.Request) -> web.Response:
    require(request, Action.VIEW)
    checks = request.app[CHECKS]
    _, _, since, until = _month(request, checks)
    with _store_refusals():
        items = checks.missing_between(since, min(until, checks.clock.now()))
    return json_response({"missing": [missing_json(item) for item in items]})


async def system_checks(request: web.Request) -> web.Response:
    """The twice-daily system check of each day of `month` up to today: the responsible
    people's looks at the fridges, first and last, and whether they were 6 h apart."""
    require(request, Action.VIEW)
    checks = request.app[CHECKS]
    _, _, since, until = _month(request, checks)
    now = checks.clock.now()
    last = min(until, now)
    with _store_refusals():
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


async def manual_sheet(request: web.Request) -> web.Response:
    require(request, Action.VIEW)
    checks = request.app[CHECKS]
    year, month, since, until = _month(request, checks)
    ref = _compartment_query(request, checks)
    kind = request.query.get("format", "html")
    if kind not in {"html", "csv"}:
        raise refusal(web.HTTPBadRequest, [("format", f"{kind!r}: give html or csv")])
    with _store_refusals():
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
