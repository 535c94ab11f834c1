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
from dataclasses import dataclass
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
JSON: Final = "application/json"
HTML: Final = ("text/html",)
CSV: Final = ("text/csv",)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """What a route needs and takes: its action (or `OPEN`), the pydantic model of its JSON
    body, the media types it answers with and the names of its query parameters. The
    middleware checks `action`; the OpenAPI document (`gateway.web.openapi`) is written from
    these."""

    action: Action | None
    body: type[BaseModel] | None = None
    produces: tuple[str, ...] = (JSON,)
    query: tuple[str, ...] = ()


_ROUTES: web.AppKey[dict[web.AbstractRoute, RouteSpec]] = web.AppKey("route_specs")


def add_route(
    app: web.Application,
    method: str,
    path: str,
    handler: Handler,
    action: Action | None,
    *,
    body: type[BaseModel] | None = None,
    produces: tuple[str, ...] = (JSON,),
    query: tuple[str, ...] = (),
) -> web.AbstractRoute:
    """Add a route and record its `RouteSpec`."""
    route = app.router.add_route(method, path, handler)
    if _ROUTES not in app:
        app[_ROUTES] = {}
    app[_ROUTES][route] = RouteSpec(action, body, produces, query)
    return route


def route_specs(app: web.Application) -> Mapping[web.AbstractRoute, RouteSpec]:
    """Every route added with `add_route` and its spec."""
    return app.get(_ROUTES, {})


def route_actions(app: web.Application) -> Mapping[web.AbstractRoute, Action | None]:
    """Every route added with `add_route` and what it needs."""
    return {route: spec.action for route, spec in route_specs(app).items()}
