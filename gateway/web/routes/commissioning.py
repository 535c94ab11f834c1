"""HTTP routes of commissioning: discovery, identify mode, the technician's forms, the audit.

Every route needs `Action.PROBE_BIND` (the technician). Forms are JSON bodies carrying the
configuration version they were filled against (`GET /api/commissioning` gives it): a refused
form answers 422 with its reasons, a stale version 409; nothing is changed in either case.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import timedelta
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.auth.policy import Action
from gateway.commissioning.change_plan import RefusedError, ble_key, hardware_key
from gateway.commissioning.desk import CommissioningDesk
from gateway.commissioning.discovery import (
    DiscoveryError,
    FoundDevice,
    bus_client,
    list_serial_ports,
    scan_ble,
    scan_modbus,
)
from gateway.commissioning.forms import all_forms, render_csv, render_html
from gateway.commissioning.identify import Point, rank
from gateway.commissioning.submitted_forms import (
    DecommissionForm,
    Form,
    InstallForm,
    MoveForm,
    ProbeCountForm,
    RenameForm,
    ReplaceForm,
)
from gateway.config_file import StaleConfigError
from gateway.core.errors import ConfigError
from gateway.runtime.hot_reload import driver_specs
from gateway.storage.commissioning import Change
from gateway.web.access import CSV, HTML, add_route, require
from gateway.web.json_http import json_response, read_json, refused
from gateway.web.keys import CLOCK, COMMISSIONING, READINGS, settings_of
from gateway.web.naming import with_compartment_name
from gateway.web.query import query_whole
from probes.settings import RtuBus

_F = TypeVar("_F", bound=BaseModel)

MAX_SCAN_TIMEOUT_S = 2.0
MAX_BLE_SECONDS = 30.0
IDENTIFY_WINDOW_S = (10.0, 900.0)

FORMS: dict[str, type[Form]] = {
    "bind": InstallForm,
    "replace": ReplaceForm,
    "move": MoveForm,
    "rename": RenameForm,
    "probes": ProbeCountForm,
    "decommission": DecommissionForm,
}


def add_commissioning_routes(app: web.Application) -> None:
    base = "/api/commissioning"
    add_route(app, "GET", base, overview, Action.PROBE_BIND)
    add_route(
        app,
        "GET",
        f"{base}/discover/modbus",
        discover_modbus,
        Action.PROBE_BIND,
        query=("bus", "addresses", "first", "last", "timeout_s"),
    )
    add_route(
        app, "GET", f"{base}/discover/ble", discover_ble, Action.PROBE_BIND, query=("seconds",)
    )
    add_route(app, "GET", f"{base}/discover/serial", discover_serial, Action.PROBE_BIND)
    add_route(app, "GET", f"{base}/identify", identify, Action.PROBE_BIND, query=("window_s",))
    for name, form in FORMS.items():
        add_route(app, "POST", f"{base}/{name}", submit, Action.PROBE_BIND, body=form)
    add_route(app, "GET", f"{base}/changes", changes, Action.PROBE_BIND)
    add_route(
        app,
        "GET",
        f"{base}/forms.csv",
        forms_csv,
        Action.PROBE_BIND,
        produces=CSV,
        query=("table",),
    )
    add_route(app, "GET", f"{base}/forms.html", forms_html, Action.PROBE_BIND, produces=HTML)


def _error(
    kind: type[web.HTTPError],
    message: str,
    field: str | None = None,
    *,
    code: str | None = None,
    **params: Any,
) -> web.HTTPException:
    return refused(kind, message, field=field, code=code, params=params)


def _desk(request: web.Request) -> CommissioningDesk:
    require(request, Action.PROBE_BIND)
    desk = request.app.get(COMMISSIONING)
    if desk is None:
        raise refused(
            web.HTTPNotFound,
            "commissioning is not set up on this gateway",
            code="commissioning_off",
        )
    return desk


def _number(request: web.Request, name: str, default: float, low: float, high: float) -> float:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise _error(web.HTTPBadRequest, f"{name}={text!r} is not a number", name) from None
    if not low <= value <= high:
        raise _error(web.HTTPBadRequest, f"{name} must be between {low:g} and {high:g}", name)
    return value


# -- overview ---------------------------------------------------------------------------------


async def overview(request: web.Request) -> web.Response:
    """What a form is filled against: the version, the compartments, the probes."""
    desk = _desk(request)
    settings = settings_of(request)
    try:
        version: str | None = desk.snapshot().version
    except ConfigError:
        version = None
    bound: dict[str, list[str]] = {}
    for probe in settings.probes:
        bound.setdefault(probe.compartment, []).append(probe.code)
    return json_response(
        {
            "version": version,
            "editable": version is not None,
            "unit": {"code": settings.unit.code, "name": settings.unit.name},
            "gateway": settings.gateway.number,
            "compartments": [
                {
                    "ref": f"{fridge.code}/{compartment.name}",
                    "fridge": fridge.code,
                    "fridge_name": fridge.name,
                    "compartment": compartment.name,
                    "kind": compartment.kind.value,
                    "probes": bound.get(f"{fridge.code}/{compartment.name}", []),
                    "expected": compartment.probes,
                }
                for fridge in settings.fridges
                for compartment in fridge.compartments
            ],
            "probes": [
                probe.model_dump(mode="json", exclude={"bind_key"})
                | with_compartment_name(request.app, probe.compartment)
                for probe in settings.probes
            ],
            "buses": [{"name": bus.name, "transport": bus.transport} for bus in settings.buses],
            "profiles": sorted(settings.all_profiles()),
        }
    )


# -- discovery --------------------------------------------------------------------------------


def _addresses(request: web.Request) -> list[int]:
    listed = request.query.get("addresses")
    if not listed:
        first = query_whole(request, "first", 1, 1, 247)
        return list(range(first, query_whole(request, "last", 32, first, 247) + 1))
    try:
        addresses = [int(item) for item in listed.split(",")]
    except ValueError:
        raise _error(
            web.HTTPBadRequest, "addresses=1,2,5 or first=1&last=32 take whole numbers", "addresses"
        ) from None
    if not all(1 <= item <= 247 for item in addresses):
        raise _error(web.HTTPBadRequest, "Modbus addresses run from 1 to 247", "addresses")
    return addresses


async def discover_modbus(request: web.Request) -> web.Response:
    """Scan a configured bus: `?bus=NAME` and `first`/`last` or `addresses`, `timeout_s`."""
    desk = _desk(request)
    settings = settings_of(request)
    name = request.query.get("bus", "")
    bus = next((item for item in settings.buses if item.name == name), None)
    if bus is None:
        known = ", ".join(item.name for item in settings.buses) or "(none configured)"
        raise _error(web.HTTPBadRequest, f"bus={name!r} is not configured; buses: {known}", "bus")
    addresses = _addresses(request)
    timeout_s = _number(request, "timeout_s", 0.2, 0.02, MAX_SCAN_TIMEOUT_S)
    profiles = settings.all_profiles()
    polled = isinstance(bus, RtuBus) and f"bus:{name}" in driver_specs(settings)
    async with _held(desk, name, polled):
        try:
            found = await scan_modbus(bus_client(bus, timeout_s), addresses, profiles, timeout_s)
        except DiscoveryError as error:
            raise _error(web.HTTPServiceUnavailable, f"bus {name}: {error}") from None
    at = request.app[CLOCK].monotonic()
    bound = {hardware_key(probe): probe.code for probe in settings.probes}
    devices = []
    for device in found:
        devices.append(_device_json(name, device, bound))
        for seen in device.best.live_channels if device.best else []:
            key = f"modbus:{name}:{device.device_id}:{seen.channel}"
            desk.sightings.saw(key, at, seen.temperature)
    return json_response({"bus": name, "scanned": len(addresses), "devices": devices})


@contextlib.asynccontextmanager
async def _held(desk: CommissioningDesk, bus: str, polled: bool) -> AsyncIterator[None]:
    """A serial bus the gateway polls is paused for the scan (one program per port)."""
    if not polled:
        yield
        return
    if desk.hold_bus is None:
        raise _error(web.HTTPConflict, f"bus {bus} is in use by the gateway's polling", "bus")
    async with desk.hold_bus(bus):
        yield


def _device_json(bus: str, device: FoundDevice, bound: dict[str, str]) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "profile": device.best.profile if device.best else None,
        "fits": [fit.profile for fit in device.fits],
        "channels": [
            {
                **asdict(seen),
                "key": f"modbus:{bus}:{device.device_id}:{seen.channel}",
                "bound_to": bound.get(f"modbus:{bus}:{device.device_id}:{seen.channel}"),
            }
            for seen in (device.best.channels if device.best else ())
        ],
        "errors": list(device.errors),
    }


async def discover_ble(request: web.Request) -> web.Response:
    """Listen for `seconds` (default 5) on the configured adapter."""
    desk = _desk(request)
    seconds = _number(request, "seconds", 5.0, 1.0, MAX_BLE_SECONDS)
    ble = settings_of(request).ble
    adapter = ble.adapter if ble else "hci0"
    try:
        sightings = await scan_ble(seconds, adapter)
    except DiscoveryError as error:
        raise _error(web.HTTPServiceUnavailable, str(error)) from None
    at = request.app[CLOCK].monotonic()
    bound = {hardware_key(probe): probe.code for probe in settings_of(request).probes}
    sensors = []
    for sighting in sightings:
        decoded = sighting.decoded
        for name, channel in decoded.channels.items():
            key = ble_key(sighting.mac, name)
            desk.sightings.saw(key, at, channel.temperature)
            sensors.append(
                {
                    "key": key,
                    "mac": sighting.mac,
                    "channel": name,
                    "name": sighting.name,
                    "format": sighting.format.value,
                    "rssi": sighting.rssi,
                    "temperature": channel.temperature,
                    "humidity": channel.humidity,
                    "battery": decoded.battery,
                    "battery_voltage": decoded.battery_voltage,
                    "packet_id": decoded.packet_id,
                    "bound_to": bound.get(key),
                }
            )
    return json_response({"adapter": adapter, "seconds": seconds, "sensors": sensors})


async def discover_serial(request: web.Request) -> web.Response:
    desk = _desk(request)
    at = request.app[CLOCK].monotonic()
    bound = {hardware_key(probe): probe.code for probe in settings_of(request).probes}
    ports = []
    for port in list_serial_ports():
        key = f"serial:{port.configure_as}"
        desk.sightings.saw(key, at)
        ports.append({**asdict(port), "key": key, "bound_to": bound.get(key)})
    return json_response({"ports": ports})


# -- identify ---------------------------------------------------------------------------------


async def identify(request: web.Request) -> web.Response:
    """Probes ranked by how clearly they rise over `window_s` (default 60 s)."""
    desk = _desk(request)
    window = _number(request, "window_s", 60.0, *IDENTIFY_WINDOW_S)
    now, mono = request.app[CLOCK].now(), request.app[CLOCK].monotonic()
    since = now - timedelta(seconds=window)
    series: dict[str, list[Point]] = {}
    labels: dict[str, dict[str, Any]] = {}
    for probe in settings_of(request).probes:
        rows = request.app[READINGS].readings(probe.code, since, now + timedelta(seconds=1), 2000)
        series[probe.code] = [
            ((row.reading.taken_at - now).total_seconds(), row.reading.temperature)
            for row in rows
            if row.reading.temperature is not None
        ]
        labels[probe.code] = {"probe": probe.code} | with_compartment_name(
            request.app, probe.compartment
        )
    bound = {hardware_key(probe) for probe in settings_of(request).probes}
    for key, points in desk.sightings.since(mono - window).items():
        if key not in bound:
            series[key] = [(at - mono, celsius) for at, celsius in points]
            labels[key] = {"probe": None, "compartment": None, "compartment_name": None}
    ranking = [{"key": move.key, **labels[move.key], **asdict(move)} for move in rank(series)]
    return json_response({"window_s": window, "ranking": ranking})


# -- forms ------------------------------------------------------------------------------------


async def submit(request: web.Request) -> web.Response:
    user = require(request, Action.PROBE_BIND)
    desk = _desk(request)
    kind = FORMS[request.path.rsplit("/", 1)[1]]
    form = _parse(kind, await read_json(request))
    try:
        outcome = await desk.submit(form, user.display_name or user.name)
    except RefusedError as refusal:
        raise _error(
            web.HTTPUnprocessableEntity,
            f"refused: {refusal.reasons[0]}",
            code="config_refused",
            reasons=refusal.reasons,
        ) from None
    except StaleConfigError as error:
        raise _error(
            web.HTTPConflict,
            str(error),
            "expected_version",
            code="config_stale",
            version=_current_version(desk),
        ) from None
    except ConfigError as error:
        raise _error(
            web.HTTPUnprocessableEntity, str(error), code=error.code, reasons=[str(error)]
        ) from None
    return json_response(
        {
            "ok": True,
            "change": _change_json(outcome.change),
            "version": outcome.version,
            "applied": outcome.applied,
        }
    )


def _current_version(desk: CommissioningDesk) -> str | None:
    try:
        return desk.snapshot().version
    except ConfigError:
        return None


def _parse(kind: type[_F], data: object) -> _F:
    try:
        return kind.model_validate(data)
    except ValidationError as error:
        problems = [
            f"{'.'.join(map(str, item['loc'])) or 'body'}: {item['msg']}" for item in error.errors()
        ]
        raise _error(
            web.HTTPBadRequest,
            f"the form is incomplete: {'; '.join(problems)}",
            str(error.errors()[0]["loc"][0]) if error.errors()[0]["loc"] else None,
            code="form_incomplete",
            reasons=problems,
        ) from None


def _change_json(change: Change) -> dict[str, Any]:
    return {**asdict(change), "at": change.at.isoformat(), "form": change.form.value}


async def changes(request: web.Request) -> web.Response:
    desk = _desk(request)
    return json_response({"changes": [_change_json(change) for change in desk.audit.changes()]})


async def forms_csv(request: web.Request) -> web.Response:
    """One form as CSV: `?table=1` .. `4` (附表1-4)."""
    tables = all_forms(_desk(request).audit.changes(), settings_of(request))
    text = request.query.get("table", "")
    table = next((item for item in tables if str(item.number) == text), None)
    if table is None:
        raise _error(web.HTTPBadRequest, f"table={text!r}: give 1, 2, 3 or 4 (附表1-4)", "table")
    response = web.Response(text=render_csv(table), content_type="text/csv", charset="utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="form-{table.number}.csv"'
    return response


async def forms_html(request: web.Request) -> web.Response:
    settings = settings_of(request)
    page = render_html(all_forms(_desk(request).audit.changes(), settings), settings)
    return web.Response(text=page, content_type="text/html", charset="utf-8")
