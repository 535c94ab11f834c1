"""HTTP routes of the uploads to the platform: the queue, the rejections, correcting a
rejected circulation message, a day's upload and timeliness rates."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from aiohttp import web
from pydantic import Field

from gateway.auth.policy import Action
from gateway.web.access import add_route, require
from gateway.web.audit_note import note
from gateway.web.json_http import RequestBody, json_response, parse_body
from gateway.web.routes.ledger_http import BOOK, iso, ledger_refusals, query_day
from ledger.stock_errors import ScrapReasonUnknownError


def add_upload_routes(app: web.Application) -> None:
    add_route(app, "GET", "/api/ledger/upload/queue", upload_queue, Action.UPLOAD_VIEW)
    add_route(app, "GET", "/api/ledger/upload/rejections", rejections, Action.UPLOAD_VIEW)
    add_route(
        app,
        "POST",
        "/api/ledger/upload/circulation/{event_id}/correction",
        correct_circulation,
        Action.STOCK_ISSUE,
        body=CirculationCorrectionBody,
    )
    add_route(app, "GET", "/api/ledger/upload/rates", rates, Action.UPLOAD_VIEW, query=("day",))


async def upload_queue(request: web.Request) -> web.Response:
    require(request, Action.UPLOAD_VIEW)
    uploader = request.app[BOOK].uploader
    with ledger_refusals(request):
        pending = uploader.pending()
        alarms = uploader.deadline_alarms()
        rejected = uploader.rejections()
        circulation = uploader.circulation.counts()
    return json_response(
        {
            "realtime": uploader.realtime,
            "pending": [{"record_id": r, "version": v} for r, v in pending],
            "rejected": len(rejected),
            "circulation": circulation,
            "deadline_alarms": [
                {
                    "record_id": a.record_id,
                    "version": a.version,
                    "deadline": iso(a.deadline),
                    "state": a.state,
                    "error": a.error,
                }
                for a in alarms
            ],
        }
    )


async def rejections(request: web.Request) -> web.Response:
    """Versions the platform refused (dose records and circulation messages, `type`) and no
    correction has replaced yet, with the kind of each refusal, counted by kind and type."""
    require(request, Action.UPLOAD_VIEW)
    uploader = request.app[BOOK].uploader
    with ledger_refusals(request):
        rows = [(r, v, m, k, "dose") for r, v, m, k in uploader.rejections()]
        rows += [
            (item.event.event_id, item.event.version, item.message, item.kind, item.event.kind)
            for item in uploader.circulation_rejections()
        ]
    by_kind: dict[str, int] = defaultdict(int)
    by_type: dict[str, int] = defaultdict(int)
    for *_, kind, message_type in rows:
        by_kind[kind] += 1
        by_type[message_type] += 1
    return json_response(
        {
            "rejections": [
                {"record_id": r, "version": v, "message": m, "kind": k, "type": t}
                for r, v, m, k, t in rows
            ],
            "by_kind": dict(sorted(by_kind.items())),
            "by_type": dict(sorted(by_type.items())),
        }
    )


class CirculationCorrectionBody(RequestBody):
    """The corrected fields of a rejected circulation message (none: sent again as it was)."""

    to_unit: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    reason_code: Annotated[str, Field(min_length=1, max_length=8)] | None = None


async def correct_circulation(request: web.Request) -> web.Response:
    """A rejected circulation message corrected: its next version is queued and sent."""
    require(request, Action.STOCK_ISSUE)
    body = await parse_body(request, CirculationCorrectionBody)
    book = request.app[BOOK]
    event_id = request.match_info["event_id"]
    with ledger_refusals(request):
        if body.to_unit is not None:
            book.stock.units.known(body.to_unit, "to_unit", "the receiving unit")
        if body.reason_code is not None and body.reason_code not in book.stock.scrap_reasons:
            raise ScrapReasonUnknownError(
                "reason_code",
                f"{body.reason_code!r} is not a scrap reason code",
                params={
                    "value": body.reason_code,
                    "known": ", ".join(sorted(book.stock.scrap_reasons)),
                },
            )
        event = book.uploader.correct_circulation(
            event_id, to_unit=body.to_unit, reason_code=body.reason_code
        )
    book.queued.set()
    note(request, f"corrected the {event.kind} message {event_id}: version {event.version}")
    return json_response(
        {"event_id": event.event_id, "version": event.version, "kind": event.kind}, status=201
    )


async def rates(request: web.Request) -> web.Response:
    """Upload rate and timeliness rate (accepted within 24 h) of one vaccination day."""
    require(request, Action.UPLOAD_VIEW)
    book = request.app[BOOK]
    day = query_day(request, book)
    with ledger_refusals(request):
        day_rates = book.uploader.rates(day)
    return json_response(
        {
            "day": day.isoformat(),
            "records": day_rates.records,
            "uploaded": day_rates.uploaded,
            "on_time": day_rates.on_time,
            "upload_rate": day_rates.upload_rate,
            "timeliness_rate": day_rates.timeliness_rate,
        }
    )
