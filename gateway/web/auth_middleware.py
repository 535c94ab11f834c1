"""Who is asking, and may they: the middleware in front of every web page and API route.

A request is signed in by the `coldchain_session` cookie (pages, set by signing in) or by an
`Authorization: Bearer` API token (machine clients). The route's declared action (see
`gateway.web.access.add_route`) is checked before the handler runs; a route that declared nothing
needs a signed-in user when it is an API route or changes something, and is left to its
handler otherwise (pages send the visitor to /login themselves).

CSRF: a cookie-signed-in request that changes something must carry the session's CSRF token
in the `X-CSRF-Token` header (or a `csrf_token` form field). Pages read it from the
`coldchain_csrf` cookie, which scripts may read; a page of another site cannot. Bearer
requests carry no ambient credential and need no CSRF token.

Every state-changing request, refused or not, is written to the audit log afterwards.
"""

from __future__ import annotations

import contextlib
import enum
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from aiohttp.web_urldispatcher import SystemRoute

from gateway.auth.accounts import NewSession
from gateway.auth.policy import Action
from gateway.core.clock import Clock
from gateway.settings import Settings
from gateway.storage.accounts import AccountStore
from gateway.storage.audit_log import AuditLog
from gateway.storage.registry import ACCOUNTS, AUDIT
from gateway.web.access import USER, current_user, require, route_specs
from gateway.web.audit_note import noted
from gateway.web.json_http import refused

SESSION_COOKIE = "coldchain_session"
CSRF_COOKIE = "coldchain_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_EXPIRED = "session expired: sign in again at /login"
SecureCookies = Literal["auto", "always", "never"]
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class Via(enum.Enum):
    NOBODY = enum.auto()
    SESSION = enum.auto()
    TOKEN = enum.auto()
    STALE_SESSION = enum.auto()  # a cookie whose session ended or expired
    BAD_TOKEN = enum.auto()  # unknown, revoked or expired


@dataclass(frozen=True, slots=True)
class WebAuth:
    """What the middleware needs; `secure` says when cookies get the Secure flag ("auto":
    when the request came over https)."""

    accounts: AccountStore
    audit: AuditLog
    secure: SecureCookies = "auto"


AUTH = web.AppKey("auth", WebAuth)
_VIA = web.RequestKey("via", Via)
_CSRF = web.RequestKey("csrf", str)


def open_web_auth(
    settings: Settings, clock: Clock, resources: contextlib.ExitStack | contextlib.AsyncExitStack
) -> WebAuth:
    """Open the accounts store and the audit log in the data folder, closed with `resources`."""
    data_dir = settings.gateway.data_dir
    synchronous = settings.store.synchronous
    accounts = resources.enter_context(
        AccountStore(data_dir / ACCOUNTS.file, clock, synchronous=synchronous)
    )
    audit = resources.enter_context(AuditLog(data_dir / AUDIT.file, clock, synchronous=synchronous))
    return WebAuth(accounts, audit, settings.http.secure_cookies)


def install_auth(app: web.Application, auth: WebAuth) -> None:
    """Put the middleware in front of every route of `app` (call before adding routes)."""
    app[AUTH] = auth
    app.middlewares.append(auth_middleware)


@web.middleware
async def auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    auth = request.app[AUTH]
    try:
        response = await _checked(request, handler, auth)
    except web.HTTPException as answer:
        _audit(request, auth, answer.status)
        if answer.status == web.HTTPUnauthorized.status_code and via(request) is Via.STALE_SESSION:
            forget_session(answer, request)
        raise
    except Exception:
        _audit(request, auth, web.HTTPInternalServerError.status_code)
        raise
    _audit(request, auth, response.status)
    return response


def via(request: web.Request) -> Via:
    """How the request was signed in (or why not)."""
    found = request.get(_VIA)
    return Via.NOBODY if found is None else found


def session_csrf(request: web.Request) -> str | None:
    """The CSRF token of the request's session, when signed in by cookie."""
    return request.get(_CSRF)


async def _checked(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    auth: WebAuth,
) -> web.StreamResponse:
    _identify(request, auth.accounts)
    needed = _needed(request)
    if needed is not None:
        if current_user(request) is None:
            if via(request) is Via.STALE_SESSION:
                raise refused(
                    web.HTTPUnauthorized, SESSION_EXPIRED, field="Cookie", code="session_expired"
                )
            if via(request) is Via.BAD_TOKEN:
                raise refused(
                    web.HTTPUnauthorized,
                    "the Bearer API token is unknown, revoked or expired; fix: ask an admin for "
                    "a new one (POST /api/tokens or `coldchain accounts token`)",
                    field="Authorization",
                    code="token_unknown",
                )
        require(request, needed)
    if request.method in STATE_CHANGING and via(request) is Via.SESSION:
        await _check_csrf(request)
    return await handler(request)


def _identify(request: web.Request, accounts: AccountStore) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        user = accounts.token_user(secret.strip())
        request[_VIA] = Via.TOKEN if user is not None else Via.BAD_TOKEN
        if user is not None:
            request[USER] = user
        return
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return
    session = accounts.session(token)
    if session is None:
        request[_VIA] = Via.STALE_SESSION
        return
    request[_VIA] = Via.SESSION
    request[USER] = session.user
    request[_CSRF] = session.csrf


def _needed(request: web.Request) -> Action | None:
    """The action this request needs before its handler runs; None for none."""
    route = request.match_info.route
    if isinstance(route, SystemRoute):  # 404, 405: aiohttp answers
        return None
    declared = route_specs(request.app)
    if route in declared:
        return declared[route].action
    if request.method == "HEAD":
        for sibling in route.resource or ():
            if sibling.method == "GET" and sibling in declared:
                return declared[sibling].action
    if request.method in STATE_CHANGING or request.path.startswith("/api/"):
        return Action.VIEW
    return None


async def _check_csrf(request: web.Request) -> None:
    expected = session_csrf(request)
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in FORMS:
        try:
            field = (await request.post()).get(CSRF_FIELD)
        except ValueError:  # a form that cannot be parsed carries no token
            field = None
        given = field if isinstance(field, str) else None
    if expected is None or given is None or not hmac.compare_digest(given, expected):
        problem = "missing" if given is None else "wrong"
        raise refused(
            web.HTTPForbidden,
            f"CSRF token {problem}: a signed-in page must send the {CSRF_HEADER} header (or the "
            f"{CSRF_FIELD} form field) with the value of the {CSRF_COOKIE} cookie; reload the "
            "page, or sign in again if it persists",
            field=CSRF_HEADER,
            code=f"csrf_{problem}",
        )


def _audit(request: web.Request, auth: WebAuth, status: int) -> None:
    if request.method not in STATE_CHANGING:
        return
    summary, actor = noted(request)
    user = current_user(request)
    who = user.name if user is not None else actor
    route = request.match_info.route
    default = f"{request.method} {route.resource.canonical if route.resource else request.path}"
    auth.audit.append(request.method, request.path, who, status, summary or default)


def _secure(request: web.Request, mode: SecureCookies) -> bool:
    return mode == "always" or (mode == "auto" and request.secure)


def remember_session(
    response: web.StreamResponse, request: web.Request, session: NewSession
) -> None:
    """Set the session cookie (HttpOnly) and the CSRF cookie (readable by the page)."""
    secure = _secure(request, request.app[AUTH].secure)
    max_age = int(request.app[AUTH].accounts.policy.session_max.total_seconds())
    for name, value, httponly in (
        (SESSION_COOKIE, session.token, True),
        (CSRF_COOKIE, session.csrf, False),
    ):
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=secure,
            httponly=httponly,
            samesite="Strict",
        )


def forget_session(response: web.StreamResponse, request: web.Request) -> None:
    secure = _secure(request, request.app[AUTH].secure)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.del_cookie(name, path="/", secure=secure, samesite="Strict")
