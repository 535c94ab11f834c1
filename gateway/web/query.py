"""Query parameters read one way: whole numbers, times and months, each refusal naming the
parameter."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from gateway.core.clinic_time import CLINIC_TZ, parse_month
from gateway.web.json_http import refused
from ledger.stock_errors import MonthInvalidError

_EARLIEST = 1970
_LATEST = 2999


def query_whole(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """`name` as a whole number from `low` to `high` (ASCII digits), or `default` when absent."""
    text = request.query.get(name)
    if text is None:
        return default
    digits = text.removeprefix("-")
    if not (digits.isascii() and digits.isdigit() and len(digits) < 19):
        raise refused(
            web.HTTPBadRequest,
            f"{name}={text!r}: give a whole number from {low} to {high}",
            field=name,
            code="not_whole",
            params={"low": low, "high": high},
        )
    value = int(text)
    if not low <= value <= high:
        raise refused(
            web.HTTPBadRequest,
            f"{name}={text!r}: give a whole number from {low} to {high}",
            field=name,
            code="out_of_range",
            params={"low": low, "high": high},
        )
    return value


def query_time(request: web.Request, name: str) -> datetime | None:
    """`name` as an ISO-8601 time with its UTC offset, from 1970 to 2999; None when absent."""
    text = request.query.get(name)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise refused(
            web.HTTPBadRequest,
            f"{name}={text!r} is not an ISO-8601 time; write e.g. 2026-11-24T08:00:00+08:00",
            field=name,
            code="not_a_time",
        ) from None
    if moment.tzinfo is None:
        raise refused(
            web.HTTPBadRequest,
            f"{name}={text!r} has no UTC offset; add one, e.g. +08:00 or Z",
            field=name,
            code="time_without_offset",
        )
    if not _EARLIEST < moment.year < _LATEST:
        raise refused(
            web.HTTPBadRequest,
            f"{name}={text!r} is not between {_EARLIEST + 1} and {_LATEST - 1}",
            field=name,
            code="out_of_range",
            params={"low": _EARLIEST + 1, "high": _LATEST - 1},
        )
    return moment


def required_time(request: web.Request, name: str) -> datetime:
    """`name` as `query_time` reads it; refused when absent."""
    moment = query_time(request, name)
    if moment is None:
        raise refused(
            web.HTTPBadRequest,
            f"{name}: missing: this query parameter is required",
            field=name,
            code="field_missing",
        )
    return moment


def query_month(request: web.Request, now: datetime) -> tuple[str, int, int]:
    """The `month` query as written, its year and month (`parse_month`'s rule); by default the
    month `now` falls in, in China."""
    text = request.query.get("month") or now.astimezone(CLINIC_TZ).strftime("%Y-%m")
    try:
        year, month = parse_month(text)
    except ValueError as error:
        raise refused(
            web.HTTPBadRequest,
            str(error),
            field="month",
            code=MonthInvalidError.code,
            params={"value": text},
        ) from None
    return text, year, month
