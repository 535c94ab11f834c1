"""Who may do what on the gateway: roles, actions and the one check every handler makes.

The people are those of the clinic (see the README's "Roles"): the three alarm tiers, the
technician, the vaccinator, the county viewer and the admin. Handlers call
`require(request, Action.X)`; the session middleware (see `gateway.auth.middleware`) has put the
signed-in `User` on the request under `USER`. A request without one is refused with 401, a
user whose roles do not include the action with 403; both answers name what is missing.

Route modules add their routes with `add_route(app, method, path, handler, action)`, which
also records the action the route needs (or `OPEN`: the sign-in page, signed ack links,
machine health). The middleware checks that record before the handler runs, and the
permission tests read it to try every route with every role.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final

from aiohttp import web


class Role(enum.StrEnum):
    TECHNICIAN = "technician"
    MANAGER = "manager"  # vaccine manager, alarm tier 1
    HEAD = "head"  # department head, alarm tier 2
    UNIT_HEAD = "unit_head"  # unit head, alarm tier 3
    VACCINATOR = "vaccinator"
    COUNTY = "county"  # county/city CDC viewer
    ADMIN = "admin"


class Action(enum.StrEnum):
    VIEW = "view"  # dashboard, fridges, readings, alarms list
    VIEW_PERSONAL_DATA = "view_personal_data"  # unmasked names, ID numbers, phones
    ALARM_ACK = "alarm_ack"
    ALARM_CLOSE = "alarm_close"
    ALARM_SILENCE = "alarm_silence"
    PROBE_BIND = "probe_bind"  # install, replace, move, decommission
    CALIBRATION = "calibration"
    MANUAL_READING = "manual_reading"
    SCAN = "scan"  # POST /api/scans
    STOCK_RECEIVE = "stock_receive"
    STOCK_ISSUE = "stock_issue"
    STOCK_REQUEST = "stock_request"  # ask to return upward or scrap
    STOCK_APPROVE = "stock_approve"
    STOCKTAKE = "stocktake"
    ADMINISTER = "administer"  # a dose: the scan at vaccination and the record
    RECORD_CORRECT = "record_correct"
    CATALOGUE_IMPORT = "catalogue_import"
    UPLOAD_VIEW = "upload_view"
    EXCURSION_DISPOSITION = "excursion_disposition"
    CONFIG_CHANGE = "config_change"
    ACCOUNTS = "accounts"
    AUDIT_VIEW = "audit_view"


_TIERS = frozenset({Role.MANAGER, Role.HEAD, Role.UNIT_HEAD})

PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.VIEW: frozenset(Role),
    Action.VIEW_PERSONAL_DATA: frozenset({Role.MANAGER, Role.VACCINATOR}),
    Action.ALARM_ACK: _TIERS,
    Action.ALARM_CLOSE: _TIERS,
    Action.ALARM_SILENCE: _TIERS | {Role.TECHNICIAN},
    Action.PROBE_BIND: frozenset({Role.TECHNICIAN}),
    Action.CALIBRATION: frozenset({Role.TECHNICIAN}),
    Action.MANUAL_READING: frozenset({Role.MANAGER, Role.TECHNICIAN}),
    Action.SCAN: frozenset({Role.MANAGER, Role.VACCINATOR, Role.TECHNICIAN}),
    Action.STOCK_RECEIVE: frozenset({Role.MANAGER}),
    Action.STOCK_ISSUE: frozenset({Role.MANAGER}),
    Action.STOCK_REQUEST: frozenset({Role.MANAGER}),
    Action.STOCK_APPROVE: frozenset({Role.HEAD, Role.UNIT_HEAD, Role.COUNTY}),
    Action.STOCKTAKE: frozenset({Role.MANAGER}),
    Action.ADMINISTER: frozenset({Role.VACCINATOR}),
    Action.RECORD_CORRECT: frozenset({Role.VACCINATOR, Role.MANAGER}),
    Action.CATALOGUE_IMPORT: frozenset({Role.MANAGER, Role.ADMIN}),
    Action.UPLOAD_VIEW: frozenset({Role.MANAGER, Role.HEAD, Role.UNIT_HEAD, Role.COUNTY}),
    Action.EXCURSION_DISPOSITION: frozenset({Role.MANAGER, Role.HEAD, Role.UNIT_HEAD}),
    Action.CONFIG_CHANGE: frozenset({Role.TECHNICIAN, Role.ADMIN}),
    Action.ACCOUNTS: frozenset({Role.ADMIN}),
    Action.AUDIT_VIEW: frozenset({Role.ADMIN, Role.UNIT_HEAD, Role.COUNTY}),
}
assert set(PERMISSIONS) == set(Action), "every action needs its roles"


@dataclass(frozen=True, slots=True)
class User:
    """A signed-in account. `person` is the alarm tier person id this account answers as."""

    name: str
    roles: frozenset[Role]
    display_name: str = ""
    person: str | None = None

    def may(self, action: Action) -> bool:
        return bool(self.roles & PERMISSIONS[action])


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
    if not user.may(action):
        allowed = ", ".join(sorted(PERMISSIONS[action]))
        raise refusal(
            web.HTTPForbidden,
            f"{user.name} ({', '.join(sorted(user.roles))}) may not {action.value}; "
            f"this needs one of: {allowed}",
        )
    return user


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
