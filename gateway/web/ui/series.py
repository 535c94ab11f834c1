"""`GET /api/series`: a probe's temperature over a span, downsampled for a chart.

Thirty days of one-minute readings are 43,200 points per probe; a phone draws a few hundred.
The span is `since..until`, or the last `hours` before `until` (default: the gateway's now,
which a page should use rather than the browser's clock). It is cut into at most `points`
equal buckets and the store aggregates each bucket's minimum, maximum and mean in SQL, so the
answer stays small whatever the span.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

from aiohttp import web

from gateway.auth.access import require
from gateway.auth.policy import Action
from gateway.web.app import CONTEXT
from gateway.web.json_http import dumps

DEFAULT_POINTS = 300
MAX_POINTS = 2000
MIN_BUCKET_MS = 1000
DEFAULT_HOURS = 24
MAX_HOURS = 24 * 400


def _refusal(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=json.dumps({"error": message}, ensure_ascii=False), content_type="application/json"
    )


def _time(request: web.Request, name: str, default: datetime) -> datetime:
    text = request.query.get(name)
    if not text:
        return default
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _refusal(
            f"{name}={text!r} is not an ISO-8601 time; write e.g. 2026-11-24T08:00:00+08:00"
        ) from None
    if moment.tzinfo is None:
        raise _refusal(f"{name}={text!r} has no UTC offset; add one, e.g. +08:00 or Z")
    return moment


def _points(request: web.Request) -> int:
    text = request.query.get("points", str(DEFAULT_POINTS))
    if not text.isdigit() or not 1 <= int(text) <= MAX_POINTS:
        raise _refusal(f"points={text!r}; give a whole number from 1 to {MAX_POINTS}")
    return int(text)


def _hours(request: web.Request) -> timedelta:
    text = request.query.get("hours", str(DEFAULT_HOURS))
    if not text.isdigit() or not 1 <= int(text) <= MAX_HOURS:
        raise _refusal(f"hours={text!r}; give a whole number from 1 to {MAX_HOURS}")
    return timedelta(hours=int(text))


def bucket_ms(since: datetime, until: datetime, points: int) -> int:
    """The bucket width that cuts `since..until` into at most `points` buckets."""
    span_ms = (until - since) / timedelta(milliseconds=1)
    return max(MIN_BUCKET_MS, math.ceil(span_ms / points))


async def series(request: web.Request) -> web.Response:
    require(request, Action.VIEW)
    context = request.app[CONTEXT]
    probe = request.query.get("probe", "")
    known = {item.code: item for item in context.settings.probes}
    if probe not in known:
        raise _refusal(f"probe={probe!r} is not configured; known probes: {sorted(known)}")
    until = _time(request, "until", context.clock.now())
    since = _time(request, "since", until - _hours(request))
    if since >= until:
        raise _refusal("since is not before until; swap them")
    width = bucket_ms(since, until, _points(request))
    buckets = context.store.temperature_buckets(probe, since, until, width)
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
