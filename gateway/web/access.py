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

from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from aiohttp import web
from pydantic import BaseModel

from gateway.auth.policy import Action, ForbiddenError, User, authorize
from gateway.web.json_http import refused

USER = web.RequestKey("user", User)


def current_user(request: web.Request) -> User | None:
    user = request.get(USER)
    return user if isinstance(user, User) else None


def require(request: web.Request, action: Action) -> User:
    """The signed-in user, if one of their roles permits `action`; 401 or 403 otherwise."""
    user = current_user(request)
    if user is None:
        raise refused(
            web.HTTPUnauthorized,
            "not signed in: sign in at /login, or send a Bearer API token",
            field="Authorization",
            code="not_signed_in",
        )
    try:
        return authorize(user, action)
    except ForbiddenError as error:
        raise forbidden(error) from None


def forbidden(error: ForbiddenError) -> web.HTTPException:
    """The 403 answer to a refusal of the policy, with its stable code."""
    return refused(web.HTTPForbidden, str(error), code=error.code)


# A route anyone may call, signed in or not.
OPEN: Final = None
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ROUTE_ACTIONS: web.AppKey[dict[web.AbstractRoute, Action | None]] = web.AppKey("route_actions")
_ROUTE_BODIES: web.AppKey[dict[web.AbstractRoute, type[BaseModel]]] = web.AppKey("route_bodies")


def add_route(
    app: web.Application,
    method: str,
    path: str,
    handler: Handler,
    action: Action | None,
    *,
    body: type[BaseModel] | None = None,
) -> web.AbstractRoute:
    """Add a route and record what it needs: an `Action`, or `OPEN` for everyone, and the
    pydantic model of its JSON body (for the OpenAPI document)."""
    route = app.router.add_route(method, path, handler)
    if _ROUTE_ACTIONS not in app:
        app[_ROUTE_ACTIONS] = {}
        app[_ROUTE_BODIES] = {}
    app[_ROUTE_ACTIONS][route] = action
    if body is not None:
        app[_ROUTE_BODIES][route] = body
    return route


def route_actions(app: web.Application) -> Mapping[web.AbstractRoute, Action | None]:
    """Every route added with `add_route` and what it needs."""
    return app.get(_ROUTE_ACTIONS, {})


def route_bodies(app: web.Application) -> Mapping[web.AbstractRoute, type[BaseModel]]:
    """The body model of each route added with `add_route(..., body=Model)`."""
    return app.get(_ROUTE_BODIES, {})
