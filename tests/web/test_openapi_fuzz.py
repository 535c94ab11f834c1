"""schemathesis against the gateway app on a loopback port: every route of the served OpenAPI
document, called with a token of every role that may call it, a bounded number of generated
examples each (fixed seed), must answer without a server error and as the document says, and
never show a role without `view_personal_data` the whole ID number, phone, name or address of
the recipient and the ID-card scan recorded before (tests.web.test_personal_data)."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from schemathesis.core.failures import FailureGroup

from gateway.auth.policy import PERMISSIONS, Action, Role
from gateway.web.routes.live import EVENT_STREAM
from tests.web.conftest import Site
from tests.web.test_personal_data import SCANNED, SECRETS, seed_personal_data

pytestmark = [pytest.mark.asyncio, pytest.mark.property, pytest.mark.timeout(900)]

FUZZING = not hypothesis.settings.default.derandomize  # the `fuzz` profile
EXAMPLES = int(os.environ.get("COLDCHAIN_FUZZ_EXAMPLES", "50" if FUZZING else "8"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
ANONYMOUS = "anonymous"  # open routes are called without a token
# Run last: they end sessions, revoke tokens or change accounts the other calls rely on.
LAST = ("/api/tokens/{id}", "/api/accounts/{name}", "/api/session", "/setup")


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def _tokens(site: Site) -> dict[str, str]:
    tokens = {}
    for role in Role:
        secret, _ = site.accounts.create_token(role.value, f"fuzz-{role.value}")
        tokens[role.value] = secret
    return tokens


def _operations(schema: Any) -> Iterator[Any]:
    """Every operation but the event stream, which never ends (tests/web/test_live_events.py)."""
    found = [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())
        if EVENT_STREAM not in str(operation.definition.raw.get("responses", {}))
    ]
    yield from sorted(found, key=lambda op: (op.path.startswith(LAST), op.path, op.method))


MASKED_ROLES = {role.value for role in Role} - set(PERMISSIONS[Action.VIEW_PERSONAL_DATA])
PERSONAL = [*SECRETS.values(), *SCANNED.values()]


def _fuzz(base_url: str, tokens: dict[str, str], tally: Tally) -> None:
    admin = {"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
    document = requests.get(f"{base_url}/api/openapi.json", headers=admin, timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    session = requests.Session()
    for operation in _operations(schema):
        for role in operation.definition.raw.get("x-roles") or [ANONYMOUS]:
            headers = {"Authorization": f"Bearer {tokens[role]}"} if role in tokens else {}
            label = f"{operation.label} as {role}"
            masked = role in MASKED_ROLES or role == ANONYMOUS
            _examples(operation, base_url, session, headers, label, tally, masked=masked)


def _examples(
    operation: Any,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str],
    label: str,
    tally: Tally,
    *,
    masked: bool,
) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @given(case=st.one_of(*(operation.as_strategy(mode) for mode in GenerationMode)))
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers)
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as failure:
            tally.failures.append(
                f"{label}: {response.status_code} {response.text[:300]}\n{failure}"
            )
        shown = [value for value in PERSONAL if masked and value in response.text]
        if shown:
            tally.failures.append(f"{label}: personal data unmasked: {shown}")

    run()


async def test_every_route_with_every_role_answers_as_documented(
    site: Site, client: TestClient[Any, Any]
) -> None:
    base_url = str(client.make_url("")).rstrip("/")
    tally = Tally()
    tokens = _tokens(site)
    await seed_personal_data(client, tokens)
    await asyncio.to_thread(_fuzz, base_url, tokens, tally)
    calls = sum(tally.statuses.values())
    print(f"schemathesis: {calls} calls {dict(sorted(tally.statuses.items()))}")
    assert not tally.failures, "\n\n".join(tally.failures[:20])
