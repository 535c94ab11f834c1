"""The HTTP side of the one permission check (`gateway.auth.policy.authorize`).

Handlers call `require(request, Action.X)`; the session middleware (see
`gateway.web.auth_middleware`) has put the signed-in `User` on the request under `USER`. A request
without one is refused with 401, a user whose roles do not include the action with 403 and the
code "forbidden"; both answers name what is missing.

Route modules add their routes with `add_route(app, method, path, handler, action)`, which
also records the action the route needs (or `OPEN`: the sign-in page, signed ack links,
machine health). The middleware checks that record before the handler runs, and the
permission tests read it to try every route with every role.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from aiohttp import web

from gateway.auth.policy import Action, ForbiddenError, User, authorize

USER = web.RequestKey("user", User)


def current_user(request: web.Request) -> User | None:
    user = request.get(USER)
    return user if isinstance(user, User) else None


def require(request: web.Request, action: Action) -> User:
    """The signed-in user, if one of their roles permits `action`; 401 or 403 otherwise."""
    user = current_user(request)
    if user is None:
        raise refusal(
            web.HTTPUnauthorized, "not signed in: sign in at /login, or send a Bearer API token"
        )
    try:
        return authorize(user, action)
    except ForbiddenError as error:
        raise forbidden(error) from None


def forbidden(error: ForbiddenError) -> web.HTTPForbidden:
    """The 403 answer to a refusal of the policy, with its stable code."""
    body = {"error": str(error), "code": error.code}
    return web.HTTPForbidden(
        text=json.dumps(body, ensure_ascii=False), content_type="application/json"
    )


def refusal(kind: type[web.HTTPError], message: str) -> web.HTTPError:
    return kind(
        text=json.dumps({"error": message}, ensure_ascii=False), content_type="application/json"
    )


# A route anyone may call, signed in or not.
OPEN: Final = None
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ROUTE_ACTIONS: web.AppKey[dict[web.AbstractRoute, Action | None]] = web.AppKey("route_actions")


def add_route(
    app: web.Application, method: str, path: str, handler: Handler, action: Action | None
) -> web.AbstractRoute:
    """Add a route and record what it needs: an `Action`, or `OPEN` for everyone."""
    route = app.router.add_route(method, path, handler)
    if _ROUTE_ACTIONS not in app:
        app[_ROUTE_ACTIONS] = {}
    app[_ROUTE_ACTIONS][route] = action
    return route


def route_actions(app: web.Application) -> Mapping[web.AbstractRoute, Action | None]:
    """Every route added with `add_route` and what it needs."""
    return app.get(_ROUTE_ACTIONS, {})
