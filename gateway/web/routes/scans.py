"""JSON API for barcode scans: GET /api/scans?since=SEQ&limit=N and POST /api/scans.

A scan's raw bytes go out as base64 (exact) and, when they are valid UTF-8, also as text
(GS shown as \\u001d). POST accepts `{"raw": ..., "encoding": "text" | "base64", "scanner",
"station"}` so the ledger and tools can submit scans; the server stamps the time.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from gateway.auth.access import add_route, require
from gateway.auth.policy import Action, shown_to
from gateway.core.clock import Clock, SystemClock
from gateway.storage.scans import ScanSink, ScanStore, StoredScan, scan_sink
from ledger.masking import Shown
from probes.scan import Scan

MAX_SCANS = 10_000
MAX_RAW = 8192
_dumps = functools.partial(json.dumps, ensure_ascii=False)


def _always() -> bool:
    return True


def add_scan_routes(
    app: web.Application,
    scan_store: ScanStore,
    clock: Clock | None = None,
    synced: Callable[[], bool] = _always,
    record: ScanSink | None = None,
) -> None:
    """`record` commits a posted scan and tells the listeners (default: the store alone); the
    scan acts for the account (or API token's account) that posted it."""
    api = _ScanApi(scan_store, clock or SystemClock(), synced, record or scan_sink(scan_store))
    add_route(app, "GET", "/api/scans", api.list_scans, Action.VIEW)
    add_route(app, "POST", "/api/scans", api.post_scan, Action.SCAN)


def scan_json(stored: StoredScan, shown: Shown) -> dict[str, Any]:
    """A scan as its reader may see it: an ID card's number masked in both the text and the
    base64 for a reader without the right to see it."""
    scan = stored.scan
    raw = shown.raw(scan.raw)
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {
        "seq": stored.seq,
        "raw_base64": base64.b64encode(raw).decode("ascii"),
        "text": text,
        "symbology": scan.symbology,
        "scanner": scan.scanner,
        "station": scan.station,
        "taken_at": scan.taken_at.isoformat(),
        "clock_synced": scan.clock_synced,
        "time_corrected": stored.time_corrected,
        "account": stored.account,
    }


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=_dumps({"error": message}), content_type="application/json")


def _whole(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.query.get(name, str(default)))
    except ValueError:
        raise _bad_request(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise _bad_request(f"{name} must be between {low} and {high}")
    return value


class _ScanApi:
    def __init__(
        self,
        store: ScanStore,
        clock: Clock,
        synced: Callable[[], bool],
        record: ScanSink,
    ) -> None:
        self._store = store
        self._clock = clock
        self._synced = synced
        self._record = record

    async def list_scans(self, request: web.Request) -> web.Response:
        shown = shown_to(require(request, Action.VIEW))
        since = _whole(request, "since", 0, 0, 2**63 - 1)
        limit = _whole(request, "limit", 1000, 1, MAX_SCANS)
        rows = self._store.after(since, limit)
        return web.json_response(
            dumps=_dumps,
            data={
                "scans": [scan_json(row, shown) for row in rows],
                "last_seq": self._store.last_seq(),
            },
        )

    async def post_scan(self, request: web.Request) -> web.Response:
        user = require(request, Action.SCAN)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _bad_request("the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise _bad_request("the body must be a JSON object")
        scan = Scan(
            _raw(body),
            _name(body, "scanner"),
            _name(body, "station"),
            self._clock.now(),
            self._synced(),
        )
        stored = await self._record(scan, user.name)
        return web.json_response(scan_json(stored, shown_to(user)), status=201, dumps=_dumps)


def _name(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise _bad_request(f"{key} must be a non-empty string of at most 100 characters")
    return value


def _raw(body: dict[str, Any]) -> bytes:
    value = body.get("raw")
    encoding = body.get("encoding", "text")
    if not isinstance(value, str) or not value:
        raise _bad_request("raw must be a non-empty string (text, or base64 with encoding)")
    if encoding == "text":
        raw = value.encode("utf-8")
    elif encoding == "base64":
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error:
            raise _bad_request("raw is not valid base64") from None
    else:
        raise _bad_request("encoding must be 'text' or 'base64'")
    if not raw or len(raw) > MAX_RAW:
        raise _bad_request(f"raw must be 1 to {MAX_RAW} bytes")
    return raw
