"""JSON API for barcode scans: GET /api/scans?since=SEQ&limit=N and POST /api/scans.

A scan's raw bytes go out as base64 (exact) and, when they are valid UTF-8, also as text
(GS shown as \\u001d). POST accepts `{"raw": ..., "encoding": "text" | "base64", "scanner",
"station"}` so the ledger and tools can submit scans; the server stamps the time.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import (
    AfterValidator,
    Field,
    ValidationInfo,
    field_validator,
)

from gateway.auth.policy import Action, shown_to
from gateway.core.clock import Clock, SystemClock
from gateway.storage.scans import ScanSink, ScanStore, StoredScan, scan_sink
from gateway.web import sizes
from gateway.web.access import add_route, require
from gateway.web.json_http import RequestBody, dumps, parse_body, refused
from gateway.web.query import query_whole
from ledger.masking import Shown
from probes.scan import Scan

MAX_SCANS = 10_000
MAX_RAW = 8192


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
    add_route(app, "GET", "/api/scans", api.list_scans, Action.VIEW, query=("since", "limit"))
    add_route(app, "POST", "/api/scans", api.post_scan, Action.SCAN, body=ScanPost)


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


def _name(value: str, info: ValidationInfo) -> str:
    if not value.strip() or len(value) > 100:
        raise ValueError(f"{info.field_name} must be a non-empty string of at most 100 characters")
    return value


class ScanPost(RequestBody):
    """A scan submitted over HTTP: the text, or its exact bytes in base64."""

    raw: Annotated[str, Field(max_length=sizes.SCAN_TEXT)]
    encoding: Literal["text", "base64"] = "text"
    scanner: Annotated[str, Field(max_length=sizes.LABEL), AfterValidator(_name)]
    station: Annotated[str, Field(max_length=sizes.LABEL), AfterValidator(_name)]

    @field_validator("raw")
    @classmethod
    def _some(cls, value: str) -> str:
        if not value:
            raise ValueError("raw must be a non-empty string (text, or base64 with encoding)")
        return value

    def raw_bytes(self) -> bytes:
        if self.encoding == "text":
            raw = self.raw.encode("utf-8")
        else:
            try:
                raw = base64.b64decode(self.raw, validate=True)
            except ValueError:  # binascii.Error, or text beyond ASCII
                raise refused(
                    web.HTTPBadRequest, "raw is not valid base64", field="raw", code="not_base64"
                ) from None
        if not raw or len(raw) > MAX_RAW:
            raise refused(
                web.HTTPBadRequest,
                f"raw must be 1 to {MAX_RAW} bytes",
                field="raw",
                code="out_of_range",
                params={"low": 1, "high": MAX_RAW},
            )
        return raw


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
        since = query_whole(request, "since", 0, 0, 2**63 - 1)
        limit = query_whole(request, "limit", 1000, 1, MAX_SCANS)
        rows = self._store.after(since, limit)
        return web.json_response(
            dumps=dumps,
            data={
                "scans": [scan_json(row, shown) for row in rows],
                "last_seq": self._store.last_seq(),
            },
        )

    async def post_scan(self, request: web.Request) -> web.Response:
        user = require(request, Action.SCAN)
        body = await parse_body(request, ScanPost, web.HTTPBadRequest)
        scan = Scan(body.raw_bytes(), body.scanner, body.station, self._clock.now(), self._synced())
        stored = await self._record(scan, user.name)
        return web.json_response(scan_json(stored, shown_to(user)), status=201, dumps=dumps)
