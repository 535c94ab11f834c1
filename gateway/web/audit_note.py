"""What a request did, in words, for its entry in the audit log (`gateway.storage.audit_log`):
a handler notes it, the auth middleware writes it after the response."""

from __future__ import annotations

from aiohttp import web

_NOTE = web.RequestKey("audit_note", str)
_ACTOR = web.RequestKey("audit_actor", str)


def note(request: web.Request, summary: str, actor: str | None = None) -> None:
    """Say what this request did, for its audit entry; `actor` names who acted when nobody
    is signed in yet (a sign-in attempt names the account tried)."""
    request[_NOTE] = summary
    if actor is not None:
        request[_ACTOR] = actor


def noted(request: web.Request) -> tuple[str | None, str | None]:
    """The summary and actor a handler noted, if any."""
    return request.get(_NOTE), request.get(_ACTOR)
