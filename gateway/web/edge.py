"""The outermost middleware: every project exception leaves the HTTP edge as one refusal shape.

A handler may raise a `ColdchainError` (see `gateway.core.errors`): it answers with the error's
`code`, its message as the reason and, for ledger errors, each field and reason with its own
code and `params` (ids in them shown by name, `gateway.web.naming`). aiohttp's own
refusals of API paths (no such route, method not allowed, body too large) get the same shape.
Anything else is a bug: logged with its traceback, answered 500 `internal_error` without
details. A request too malformed to reach any handler (a NUL in a header, a line too long) is
answered 400 by aiohttp itself; `CLIENT_FAULTS` logs it as one line instead of a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.auth.policy import ForbiddenError
from gateway.core.errors import ColdchainError, StoreError
from gateway.web.error_pages import PAGE_STATUSES, error_page
from gateway.web.json_http import dumps, refusal_body, refused
from gateway.web.naming import named, named_reason
from ledger.errors import DuplicatePersonError, LedgerError, LedgerStoreError
from ledger.stock_errors import EventConflictError

log = logging.getLogger(__name__)

# The status of a project error that reaches the edge, first match wins; any other is 422.
_STATUS: Final[tuple[tuple[type[ColdchainError], type[web.HTTPException]], ...]] = (
    (ForbiddenError, web.HTTPForbidden),
    (EventConflictError, web.HTTPConflict),
    (DuplicatePersonError, web.HTTPConflict),
    (StoreError, web.HTTPServiceUnavailable),
    (LedgerStoreError, web.HTTPServiceUnavailable),
)
_API = "/api/"


def answer_for(error: ColdchainError, app: web.Application) -> web.HTTPException:
    """The refusal that tells the client about `error`."""
    status = next(
        (status for kind, status in _STATUS if isinstance(error, kind)),
        web.HTTPUnprocessableEntity,
    )
    if not isinstance(error, LedgerError):
        return refused(status, str(error), code=error.code)
    problems = error.problems
    body = refusal_body(
        status.status_code,
        [
            (item.field, named_reason(app, item.reason, {**error.params, **item.params}))
            for item in problems
        ],
        code=error.code,
        params=named(app, error.params),
    )
    for shown, item in zip(body["problems"], problems, strict=True):
        shown["code"] = item.code
        shown["params"] = named(app, item.params)
    return status(text=dumps(body), content_type="application/json")


@web.middleware
async def edge_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as answer:
        if answer.status < 400 or answer.content_type == "application/json":
            raise
        if not request.path.startswith(_API):
            if answer.status in PAGE_STATUSES and answer.content_type != "text/html":
                return error_page(answer.status, answer.text or "")
            raise
        return _json(answer.status, answer.text or answer.reason, answer.headers.get("Allow"))
    except ColdchainError as error:
        raise answer_for(error, request.app) from None
    except Exception:
        log.exception("%s %s failed: a bug in the gateway", request.method, request.path)
        if not request.path.startswith(_API):
            return error_page(500)
        return _json(500, "internal error; the gateway's log has it")


def _json(status: int, reason: str, allow: str | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=dumps(refusal_body(status, [(None, reason)])),
        content_type="application/json",
        headers={"Allow": allow} if allow is not None else None,
    )


class _ClientFaults(logging.Filter):
    """Turns aiohttp's traceback for a request it could not parse into a one-line warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        fault = record.exc_info[1] if record.exc_info else None
        if isinstance(fault, HttpProcessingError) and 400 <= fault.code < 500:
            first = (fault.message or "").strip().splitlines() or [""]
            said = record.getMessage()
            record.msg = "%s: %d %s"
            record.args = (said, fault.code, first[0])
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


CLIENT_FAULTS: Final = _ClientFaults()


def quiet_client_faults() -> None:
    """Install `CLIENT_FAULTS` on aiohttp's server logger (once, whatever the number of apps)."""
    logging.getLogger("aiohttp.server").addFilter(CLIENT_FAULTS)
