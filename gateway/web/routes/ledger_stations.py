"""GET /api/ledger/stations/{station}/feed: what the recent scans at a station did.

For the station's screen: each scan that reached the ledger, newest first, accepted (with the
package, its batch and the event id the dose record should reuse) or refused with the field
and the reason. ``?limit=N`` (1–100, default 20).
"""

from __future__ import annotations

from aiohttp import web

from gateway.auth.policy import Action, shown_to
from gateway.ledgers.scans import FEED_SIZE, LedgerScans
from gateway.web.access import add_route, require
from gateway.web.json_http import dumps, refused
from gateway.web.query import query_whole

LEDGER_SCANS = web.AppKey("ledger_scans", LedgerScans)


def add_ledger_station_routes(app: web.Application, scans: LedgerScans) -> None:
    app[LEDGER_SCANS] = scans
    add_route(
        app,
        "GET",
        "/api/ledger/stations/{station}/feed",
        station_feed,
        Action.VIEW,
        query=("limit",),
    )


async def station_feed(request: web.Request) -> web.Response:
    shown = shown_to(require(request, Action.VIEW))
    scans = request.app[LEDGER_SCANS]
    station = request.match_info["station"]
    stations = scans.stations()
    if station not in stations:
        known = ", ".join(sorted(stations)) or "none"
        raise refused(
            web.HTTPNotFound,
            f"station {station!r} has no ledger action; configured stations: {known} "
            "(fix: add it under [ledger.stations])",
            field="station",
            code="station_unknown",
        )
    limit = query_whole(request, "limit", 20, 1, FEED_SIZE)
    return web.json_response(
        dumps=dumps,
        data={
            "station": station,
            "action": str(stations[station]),
            "results": [result.to_json(shown) for result in scans.feed(station, limit)],
        },
    )
