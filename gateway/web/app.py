"""The web app over the running gateway's services, and the JSON API of health, fridges,
readings and metrics."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gateway.auth.policy import Action
from gateway.core.clock import Clock
from gateway.forward import metrics as forward_metrics
from gateway.ops.health_verdict import judge
from gateway.readings.clock_sync import ClockSync
from gateway.readings.probe_state import ProbeView, compartment_views, probe_view
from gateway.readings.recorder import Recorder
from gateway.readings.sources import Sources, drivers_health
from gateway.storage.readings import ReadingStore, StoredReading
from gateway.web.access import OPEN, add_route, current_user
from gateway.web.connections import CONNECTION_GUARD, connection_middleware
from gateway.web.edge import edge_middleware, quiet_client_faults
from gateway.web.json_http import dumps, refused
from gateway.web.keys import (
    ALARMS,
    CLOCK,
    CLOCK_SYNC,
    COMMISSIONING,
    DISK_BUDGET,
    DRIVERS,
    EXCURSIONS,
    FORWARDING,
    LEDGER_JOBS,
    READINGS,
    RECORDER,
    SETTINGS,
    STARTED_AT,
    Drivers,
    Forwarding,
    SettingsInForce,
    settings_of,
)
from gateway.web.openapi import add_openapi_route
from gateway.web.query import query_time, query_whole
from gateway.web.routes.accounts import add_account_routes
from gateway.web.routes.checks import add_check_routes, checks_health, note_look
from gateway.web.routes.checks_http import CHECKS, Checks
from gateway.web.routes.scans import add_scan_routes
from gateway.web.routes.sign_in import add_sign_in_routes
from gateway.web.security_headers import install_security_headers
from probes.reading import ProbeStatus

if TYPE_CHECKING:
    from gateway.alarms.engine import AlarmService
    from gateway.commissioning.desk import CommissioningDesk
    from gateway.forward.event_lane import EventLane
    from gateway.ledgers.book import LedgerBook
    from gateway.ledgers.excursion_service import ExcursionService
    from gateway.ledgers.tasks import LedgerJobs
    from gateway.storage.disk_budget import DiskBudget
    from gateway.web.auth_middleware import WebAuth

MAX_READINGS = 10_000


def build_app(
    *,
    settings: SettingsInForce,
    clock: Clock,
    store: ReadingStore,
    recorder: Recorder,
    drivers: Drivers,
    sources: Sources,
    clock_sync: ClockSync,
    auth: WebAuth,
    started_at: datetime,
    checks: Checks | None = None,
    forwarding: Forwarding | None = None,
    alarms: AlarmService | None = None,
    ledger: LedgerBook | None = None,
    ledger_jobs: LedgerJobs | None = None,
    excursions: ExcursionService | None = None,
    disk_budget: DiskBudget | None = None,
    commissioning: CommissioningDesk | None = None,
) -> web.Application:
    """The web app over the running gateway's services, each under its typed key
    (`gateway.web.keys`); the optional ones (and their routes) only when configured."""
    from gateway.web.auth_middleware import install_auth

    app = web.Application(middlewares=[connection_middleware])
    install_security_headers(app)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[READINGS] = store
    app[RECORDER] = recorder
    app[DRIVERS] = drivers
    app[CLOCK_SYNC] = clock_sync
    app[STARTED_AT] = started_at
    if forwarding is not None:
        app[FORWARDING] = forwarding
    if disk_budget is not None:
        app[DISK_BUDGET] = disk_budget
    if ledger_jobs is not None:
        app[LEDGER_JOBS] = ledger_jobs
    if commissioning is not None:
        app[COMMISSIONING] = commissioning
    install_auth(app, auth)
    app.middlewares.append(edge_middleware)
    quiet_client_faults()
    add_sign_in_routes(app)
    add_account_routes(app)
    if alarms is not None:
        from gateway.web.routes.alarms import add_alarm_routes

        add_alarm_routes(app, alarms)
    # Health and metrics stay open for machine monitoring; they carry no personal data.
    add_route(app, "GET", "/api/health", health, OPEN)
    add_route(app, "GET", "/api/fridges", fridges, Action.VIEW)
    add_route(
        app,
        "GET",
        "/api/readings",
        readings,
        Action.VIEW,
        query=("probe", "since", "until", "limit"),
    )
    add_route(app, "GET", "/metrics", metrics, OPEN, produces=("text/plain",))
    add_scan_routes(app, sources.scan_store, clock, clock_sync, sources.record)
    if ledger_jobs is not None:
        from gateway.web.routes.ledger_stations import add_ledger_station_routes

        add_ledger_station_routes(app, ledger_jobs.scans)
    if ledger is not None:
        from gateway.web.routes.ledger import add_ledger_routes

        add_ledger_routes(app, ledger)
    if excursions is not None:
        from gateway.web.routes.excursions import add_excursion_routes

        add_excursion_routes(app, excursions)
    from gateway.web.routes.commissioning import add_commissioning_routes

    add_commissioning_routes(app)
    if checks is not None:
        add_check_routes(app, checks)
    from gateway.web.ui import add_ui_routes

    add_ui_routes(app)
    add_openapi_route(app)
    return app


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _store_json(store: ReadingStore, recorder: Recorder) -> dict[str, Any]:
    stats = recorder.stats()
    return {
        "path": str(store.path),
        "last_seq": store.last_seq(),
        "readings_written": stats.written,
        "batches": stats.batches,
        "last_commit_at": _iso(stats.last_commit_at),
        "last_commit_ms": None
        if stats.last_commit_s is None
        else round(stats.last_commit_s * 1000, 2),
        "queue_depth": stats.queue_depth,
        "max_queue_depth": stats.max_queue_depth,
        "pending": stats.pending,
        "waited_for_space": stats.waited,
        "refused_when_full": stats.rejected,
        "invalid": stats.invalid,
        "write_errors": stats.write_errors,
        "last_error": stats.last_error,
    }


def _probe_json(view: ProbeView, needs_repair: Collection[str] = ()) -> dict[str, Any]:
    return {
        "code": view.code,
        "needs_repair": view.code in needs_repair,
        "status": view.status.value if view.status else "no_data",
        "temperature": view.temperature,
        "humidity": view.humidity,
        "taken_at": _iso(view.taken_at),
        "age_s": None if view.age_s is None else round(view.age_s, 1),
    }


async def health(request: web.Request) -> web.Response:
    app = request.app
    settings = settings_of(request)
    now = app[CLOCK].now()
    latest = app[RECORDER].latest
    probes = [probe_view(probe, latest.get(probe.code), now) for probe in settings.probes]
    buses = [
        {
            "name": driver.name,
            "transport": driver.bus.transport,
            "connected": driver.health.connected,
            "link_error": driver.health.link_error,
            "reconnects": driver.health.reconnects,
            "devices": [
                {
                    "device_id": device.device_id,
                    "profile": device.profile.name,
                    "probes": device.probes,
                    "available": not device.unavailable,
                    "consecutive_failures": device.failures,
                    "polls": device.polls,
                    "failed_polls": device.failed_polls,
                    "last_error": device.last_error,
                }
                for device in driver.devices
            ],
        }
        for driver in app[DRIVERS].buses()
    ]
    unhealthy = [view.code for view in probes if view.status is not ProbeStatus.OK]
    checks = request.app.get(CHECKS)
    checked = None if checks is None else checks_health(checks)
    repairs = () if checked is None else checked["needs_repair"]
    guard = request.app.get(CONNECTION_GUARD)
    clock_sync = app[CLOCK_SYNC]
    alarms = app.get(ALARMS)
    ledger_jobs = app.get(LEDGER_JOBS)
    excursions = app.get(EXCURSIONS)
    forwarding = app.get(FORWARDING)
    pumps = () if forwarding is None else forwarding.pumps
    disk_budget = app.get(DISK_BUDGET)
    body: dict[str, Any] = {
        "unit": settings.unit.code,
        "gateway": settings.gateway.number,
        "now": _iso(now),
        "started_at": _iso(app[STARTED_AT]),
        "store": _store_json(app[READINGS], app[RECORDER]),
        "buses": buses,
        "probes": [_probe_json(view, repairs) for view in probes],
        "probes_not_ok": unhealthy,
        "checks": checked,
        "clock_synced": clock_sync(),
        "clock": clock_sync.health(),
        "sources": drivers_health(app[DRIVERS].sources()),
        "alarms": None if alarms is None else alarms.health(),
        "ledger": None if ledger_jobs is None else ledger_jobs.health(),
        "excursions": None if excursions is None else excursions.health(),
        "forwarders": forward_metrics.health([pump.stats() for pump in pumps], now),
        "alarm_events": _lanes_json(() if forwarding is None else forwarding.alarm_lanes),
        "exposure_events": _lanes_json(() if forwarding is None else forwarding.exposure_lanes),
        "disk_budget": None if disk_budget is None else disk_budget.stats().to_json(),
        "http": None if guard is None else guard.counts.to_json(),
    }
    verdict = judge(body)
    body = {"status": verdict.status, "problems": [p.to_json() for p in verdict.problems], **body}
    return web.json_response(dumps=dumps, data=body)


def _lanes_json(lanes: Sequence[EventLane[Any]]) -> dict[str, Any]:
    return {
        lane.name: {"cursor": lane.cursor, "sent": lane.sent, "last_error": lane.last_error}
        for lane in lanes
    }


async def fridges(request: web.Request) -> web.Response:
    checks = request.app.get(CHECKS)
    if checks is not None:
        note_look(checks, current_user(request))
    return web.json_response(dumps=dumps, data=fridges_json(request.app))


def fridges_json(app: web.Application) -> list[dict[str, Any]]:
    """Every compartment now: its range, status, last temperature and probes."""
    views = compartment_views(app[SETTINGS].current, app[RECORDER].latest, app[CLOCK].now())
    checks = app.get(CHECKS)
    repairs = () if checks is None else checks.store.needs_repair()
    return [
        {
            "fridge": view.fridge.code,
            "fridge_name": view.fridge.name,
            "fridge_kind": view.fridge.kind.value,
            "compartment": view.compartment.name,
            "compartment_kind": view.compartment.kind.value,
            "ref": view.ref,
            "range": {"min_c": view.compartment.min_c, "max_c": view.compartment.max_c},
            "status": view.status.value,
            "temperature": view.temperature,
            "taken_at": _iso(view.taken_at),
            "probes": [_probe_json(probe, repairs) for probe in view.probes],
        }
        for view in views
    ]


def _reading_json(stored: StoredReading) -> dict[str, Any]:
    reading = stored.reading
    return {
        "seq": stored.seq,
        "probe": reading.probe,
        "taken_at": reading.taken_at.isoformat(),
        "status": reading.status.value,
        "temperature": reading.temperature,
        "humidity": reading.humidity,
        "battery": reading.battery,
        "clock_synced": reading.clock_synced,
        "time_corrected": stored.time_corrected,
    }


async def readings(request: web.Request) -> web.Response:
    probe = request.query.get("probe") or None
    known = {item.code for item in settings_of(request).probes}
    if probe is not None and probe not in known:
        raise refused(
            web.HTTPBadRequest,
            f"probe={probe!r} is not configured; known probes: {sorted(known)}",
            field="probe",
            code="probe_unknown",
        )
    since = query_time(request, "since")
    until = query_time(request, "until")
    if since and until and since > until:
        raise refused(
            web.HTTPBadRequest,
            "since is after until; swap them",
            field="since",
            code="since_after_until",
        )
    limit = query_whole(request, "limit", 1000, 1, MAX_READINGS)
    rows = request.app[READINGS].readings(probe, since, until, limit)
    return web.json_response(dumps=dumps, data={"readings": [_reading_json(row) for row in rows]})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of the forwarders (backlog, oldest unsent, sent, set aside)."""
    forwarding = request.app.get(FORWARDING)
    stats = [] if forwarding is None else [pump.stats() for pump in forwarding.pumps]
    body = forward_metrics.prometheus_text(stats, request.app[CLOCK].now())
    response = web.Response(text=body)
    response.headers["Content-Type"] = forward_metrics.Exposition.CONTENT_TYPE
    return response
