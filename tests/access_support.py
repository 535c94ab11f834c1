"""Signing in for route tests that build their own small app: a middleware that takes the
user from the `X-Test-Roles` header (comma-separated roles) instead of a session.

The real sessions, tokens and passwords are tested on their own in tests/web; this lets the
route tests of each feature check their permissions without a password round trip.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from gateway.auth.policy import ForbiddenError, Role, User
from gateway.storage.scans import StoredScan
from gateway.web.access import USER

ROLES_HEADER = "X-Test-Roles"


@web.middleware
async def roles_from_header(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    header = request.headers.get(ROLES_HEADER)
    if header:
        roles = frozenset(Role(name.strip()) for name in header.split(","))
        name = request.headers.get("X-Test-User", "tester")
        request[USER] = User(name, roles, person=request.headers.get("X-Test-Person"))
    return await handler(request)


def as_roles(*roles: Role, name: str = "tester", person: str | None = None) -> dict[str, str]:
    """Headers for a request made as a user with `roles`."""
    headers = {ROLES_HEADER: ",".join(roles), "X-Test-User": name}
    if person is not None:
        headers["X-Test-Person"] = person
    return headers


def acting_as(
    stations: Mapping[str, User], posters: Mapping[str, User] | None = None
) -> Callable[[StoredScan], User]:
    """Who scans act for, without an accounts store (`gateway.auth.acting.Acting` looks the
    accounts up): a posted scan for the user of its account name in `posters`, a wired
    scanner's for the user its station is assigned to in `stations`."""

    def acts_for(stored: StoredScan) -> User:
        if stored.account is not None:
            found = (posters or {}).get(stored.account)
            what = f"account {stored.account}"
        else:
            found = stations.get(stored.scan.station)
            what = f"station {stored.scan.station}"
        if found is None:
            raise ForbiddenError(f"{what} acts for no account in this test")
        return found

    return acts_for


def user(name: str, *roles: Role, person: str | None = None) -> User:
    return User(name, frozenset(roles), person=person)
