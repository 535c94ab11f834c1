"""`GET /api/series`: a probe's temperature over a span, downsampled for a chart.

Thirty days of one-minute readings are 43,200 points per probe; a phone draws a few hundred.
The span is `since..until`, or the last `hours` before `until` (default: the gateway's now,
which a page should use rather than the browser's clock). It is cut into at most `points`
equal buckets and the store aggregates each bucket's minimum, maximum and mean in SQL, so the
answer stays small whatever the span.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from aiohttp import web

from gateway.auth.policy import Action
from gateway.web.access import require
from gateway.web.json_http import dumps, refused
from gateway.web.keys import CLOCK, READINGS, settings_of
from gateway.web.query import query_time, query_whole

DEFAULT_POINTS = 300
MAX_POINTS = 2000
MIN_BUCKET_MS = 1000
DEFAULT_HOURS = 24
MAX_HOURS = 24 * 400


def _hours(request: web.Request) -> timedelta:
    return timedelta(hours=query_whole(request, "hours", DEFAULT_HOURS, 1, MAX_HOURS))


def bucket_ms(since: datetime, until: datetime, points: int) -> int:
    """The bucket width that cuts `since..until` into at most `points` buckets."""
    span_ms = (until - since) / timedelta(milliseconds=1)
    return max(MIN_BUCKET_MS, math.ceil(span_ms / points))


async def series(request: web.Request) -> web.Response:
    require(request, Action.VIEW)
    probe = request.query.get("probe", "")
    known = {item.code: item for item in settings_of(request).probes}
    if probe not in known:
        raise refused(
            web.HTTPBadRequest,
            f"probe={probe!r} is not configured; known probes: {sorted(known)}",
            field="probe",
            code="probe_unknown",
        )
    until = query_time(request, "until") or request.app[CLOCK].now()
    since = query_time(request, "since") or until - _hours(request)
    if since >= until:
        raise refused(
            web.HTTPBadRequest,
            "since is not before until; swap them",
            field="since",
            code="since_after_until",
        )
    width = bucket_ms(since, until, query_whole(request, "points", DEFAULT_POINTS, 1, MAX_POINTS))
    buckets = request.app[READINGS].temperature_buckets(probe, since, until, width)
    body = {
        "probe": probe,
        "compartment": known[probe].compartment,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "bucket_s": width / 1000,
        "points": [
            {
                "t": bucket.start.isoformat(),
                "min": bucket.low,
                "max": bucket.high,
                "mean": round(bucket.mean, 3),
                "n": bucket.count,
            }
            for bucket in buckets
        ],
    }
    return web.json_response(body, dumps=dumps)
