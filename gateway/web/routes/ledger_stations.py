"""GET /api/ledger/stations/{station}/feed: what the recent scans at a station did.

For the station's screen: each scan that reached the ledger, newest first, accepted (with the
package, its batch and the event id the dose record should reuse) or refused with the field
and the reason. ``?limit=N`` (1–100, default 20).
"""

from __future__ import annotations

import functools
import json

from aiohttp import web

from gateway.auth.access import add_route, require
from gateway.auth.policy import Action, shown_to
from gateway.ledgers.scans import FEED_SIZE, LedgerScans

LEDGER_SCANS = web.AppKey("ledger_scans", LedgerScans)
_dumps = functools.partial(json.dumps, ensure_ascii=False)


def add_ledger_station_routes(app: web.Application, scans: LedgerScans) -> None:
    app[LEDGER_SCANS] = scans
    add_route(app, "GET", "/api/ledger/stations/{station}/feed", station_feed, Action.VIEW)


def _error(kind: type[web.HTTPError], message: str) -> web.HTTPError:
    return kind(text=_dumps({"error": message}), content_type="application/json")


async def station_feed(request: web.Request) -> web.Response:
    shown = shown_to(require(request, Action.VIEW))
    scans = request.app[LEDGER_SCANS]
    station = request.match_info["station"]
    stations = scans.stations()
    if station not in stations:
        known = ", ".join(sorted(stations)) or "none"
        raise _error(
            web.HTTPNotFound,
            f"station {station!r} has no ledger action; configured stations: {known} "
            "(fix: add it under [ledger.stations])",
        )
    try:
        limit = int(request.query.get("limit", "20"))
    except ValueError:
        raise _error(web.HTTPBadRequest, "limit must be a whole number") from None
    if not 1 <= limit <= FEED_SIZE:
        raise _error(web.HTTPBadRequest, f"limit must be between 1 and {FEED_SIZE}")
    return web.json_response(
        dumps=_dumps,
        data={
            "station": station,
            "action": str(stations[station]),
            "results": [result.to_json(shown) for result in scans.feed(station, limit)],
        },
    )
