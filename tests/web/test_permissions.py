"""Every route of the full app against every role: 401 without signing in, 403 for a role whose
permissions lack the route's action, and never a permission refusal for a role that has it.

Routes are found by walking the app's router, so a feature added later is tried without
changing this file. The action a route needs comes from its declaration
(`gateway.web.access.add_route`); a route added without one must still refuse: its action is read
from the refusal its handler gives a role without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from gateway.auth.policy import PERMISSIONS, Action, Role
from gateway.web.access import OPEN, route_actions
from gateway.web.auth_middleware import STATE_CHANGING
from tests.alarms.conftest import people
from tests.web.conftest import Site
from tests.web_support import bearer

pytestmark = pytest.mark.asyncio
Client = TestClient[web.Request, web.Application]

# The only state-changing routes anyone may call: signing in and out, the first-run setup
# (which refuses once an account exists) and the button of a signed acknowledgement link.
OPEN_STATE_CHANGING = {
    ("POST", "/api/session"), ("DELETE", "/api/session"), ("POST", "/setup"),
    ("POST", "/ack/{token}"),  # the signed link is the credential
}  # fmt: skip
REFUSED = re.compile(r" may not (\w+); this needs one of")


# Every feature's state-changing routes (the second segment of /api/<feature>/...).
FEATURES = {
    "alarms", "silences", "scans", "accounts", "tokens", "ledger", "commissioning",
    "calibrations", "manual-readings",
}  # fmt: skip


def routes(app: web.Application, methods: frozenset[str]) -> Iterator[web.AbstractRoute]:
    for route in app.router.routes():
        if route.method in methods and route.resource is not None:
            yield route


def concrete(route: web.AbstractRoute) -> str:
    """The route's path with every {placeholder} filled in by something that names nothing
    (ids count from 1), so that a role allowed to call it changes nothing."""
    assert route.resource is not None
    return re.sub(r"\{[^}]+\}", "0", route.resource.canonical)


def role_tokens(site: Site) -> dict[Role, str]:
    return {role: site.accounts.create_token(role.value, "matrix")[0] for role in Role}


async def call(
    client: Client, route: web.AbstractRoute, headers: dict[str, str] | None = None
) -> ClientResponse:
    return await client.request(route.method, concrete(route), json={}, headers=headers or {})


async def refused_action(response: ClientResponse) -> Action | None:
    """The action named by a permission refusal (403 from `require`), None for any other."""
    if response.status != 403 or response.content_type != "application/json":
        return None
    found = REFUSED.search((await response.json()).get("error", ""))
    return Action(found.group(1)) if found else None


async def test_every_state_changing_route_by_every_role(site: Site, client: Client) -> None:
    tokens = role_tokens(site)
    declared = route_actions(site.app)
    tried: set[tuple[str, str]] = set()
    for route in routes(site.app, STATE_CHANGING):
        key = (route.method, route.resource.canonical if route.resource else "")
        if route in declared and declared[route] is OPEN:
            assert key in OPEN_STATE_CHANGING, f"{key} changes state without signing in"
            continue
        anonymous = await call(client, route)
        assert anonymous.status == 401, f"{key} without signing in: {anonymous.status}"
        answers = {role: await call(client, route, bearer(tokens[role])) for role in Role}
        refusals = {role: await refused_action(answer) for role, answer in answers.items()}
        named = {action for action in refusals.values() if action is not None}
        action = declared.get(route)
        if action is None:
            assert len(named) <= 1, f"{key} refuses in the name of several actions: {named}"
            action = named.pop() if named else Action.VIEW
        else:
            assert named <= {action}, f"{key} declares {action} but refuses for {named}"
        for role in Role:
            allowed = role in PERMISSIONS[action]
            status = answers[role].status
            if allowed:
                assert refusals[role] is None, f"{key}: {role} may {action} but was refused"
                assert status != 401, f"{key}: {role} signed in but got 401"
            else:
                assert status == 403, f"{key}: {role} may not {action} but got {status}"
                assert refusals[role] == action
        tried.add(key)
    covered = {path.split("/")[2] for _, path in tried}
    assert covered >= FEATURES, f"no state-changing route tried for {FEATURES - covered}"
    assert len(tried) >= 35, sorted(tried)


async def test_every_api_read_needs_a_signed_in_user(site: Site, client: Client) -> None:
    declared = route_actions(site.app)
    open_reads = set()
    for route in routes(site.app, frozenset({"GET"})):
        path = concrete(route)
        if declared.get(route, Action.VIEW) is OPEN:
            open_reads.add(route.resource.canonical if route.resource else path)
            continue
        if path.startswith("/api/"):
            response = await client.get(path)
            assert response.status == 401, f"GET {path} without signing in: {response.status}"
    assert {"/api/health", "/metrics", "/ack/{token}", "/login", "/setup"} <= open_reads
    assert not {path for path in open_reads if path.startswith("/api/")} - {"/api/health"}


async def test_open_monitoring_shows_no_personal_data(site: Site, client: Client) -> None:
    health = await client.get("/api/health")
    metrics = await client.get("/metrics")
    assert health.status == metrics.status == 200
    text = await health.text() + await metrics.text()
    for person in people():
        for value in person.values():
            if value != person["id"]:
                assert value not in text, f"{value} exposed without signing in"
    link = await client.get("/ack/garbage")
    assert link.status == 403, "the signed ack link page answers without signing in"
    assert "链接无效" in await link.text()


async def test_acknowledge_acts_as_the_signed_in_person(site: Site, client: Client) -> None:
    tokens = role_tokens(site)
    response = await client.post(
        "/api/alarms/1/ack", json={"person": "li"}, headers=bearer(tokens[Role.MANAGER])
    )
    assert response.status == 403
    assert "cannot act for 'li'" in (await response.json())["error"]
    response = await client.post("/api/alarms/1/ack", json={}, headers=bearer(tokens[Role.HEAD]))
    assert response.status == 404, "acting as li, on an alarm that does not exist"
