"""GET /api/events: what the pages show, pushed as Server-Sent Events instead of polled.

Two kinds of event, each sent when the stream opens and again whenever its content changes:
`fridges` (the body of GET /api/fridges) and `alarms` (the open alarms of GET /api/alarms with
the alarm people's names). The stream wakes when the recorder commits readings, and every
`CHECK_S` for alarm steps, and sends what differs from what it last sent; a comment line every
`KEEPALIVE_S` keeps proxies and the browser from closing a quiet stream.
A stream ends after `LIFETIME_S`; the browser's EventSource reconnects by itself (`retry`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Final

from aiohttp import web

from gateway.auth.policy import Action
from gateway.web.access import add_route, require
from gateway.web.app import fridges_json
from gateway.web.json_http import dumps
from gateway.web.keys import ALARMS, RECORDER
from gateway.web.naming import named_people

EVENT_STREAM: Final = "text/event-stream"
CHECK_S: Final = 1.0
KEEPALIVE_S: Final = 15.0
LIFETIME_S: Final = 600.0
RETRY_MS: Final = 2000


def _alarms(app: web.Application) -> dict[str, Any] | None:
    service = app.get(ALARMS)
    return None if service is None else service.view(recent=0) | named_people(app)


SOURCES: Final[dict[str, Callable[[web.Application], Any]]] = {
    "fridges": fridges_json,
    "alarms": _alarms,
}


def frame(event: str, text: str) -> bytes:
    """One event in the text/event-stream format (`text`: JSON, on one line)."""
    return f"event: {event}\ndata: {text}\n\n".encode()


async def events(request: web.Request) -> web.StreamResponse:
    require(request, Action.VIEW)
    response = web.StreamResponse(
        headers={"Content-Type": EVENT_STREAM, "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    await response.write(f"retry: {RETRY_MS}\n\n".encode())
    loop = asyncio.get_running_loop()
    sent: dict[str, str] = {}
    started = quiet_since = loop.time()
    committed = asyncio.Event()
    unsubscribe = request.app[RECORDER].subscribe(lambda _batch: committed.set())
    with contextlib.suppress(ConnectionResetError), contextlib.ExitStack() as cleanup:
        cleanup.callback(unsubscribe)
        while loop.time() - started < LIFETIME_S:
            committed.clear()
            for name, source in SOURCES.items():
                data = source(request.app)
                text = dumps(data)
                if data is not None and sent.get(name) != text:
                    sent[name] = text
                    await response.write(frame(name, text))
                    quiet_since = loop.time()
            if loop.time() - quiet_since >= KEEPALIVE_S:
                await response.write(b": keep-alive\n\n")
                quiet_since = loop.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(committed.wait(), CHECK_S)
    return response


def add_live_routes(app: web.Application) -> None:
    add_route(app, "GET", "/api/events", events, Action.VIEW, produces=(EVENT_STREAM,))
