"""Every role on both state-changing check endpoints: exactly the roles of PERMISSIONS pass."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.auth.policy import PERMISSIONS, Action, Role
from probes.reading import ProbeStatus, Reading
from tests.access_support import as_roles
from tests.checks.conftest import Client, Harness

ENDPOINTS = [
    ("/api/calibrations", Action.CALIBRATION, {"probe": "208601", "reference_c": 4.0}),
    ("/api/manual-readings", Action.MANUAL_READING, {"compartment": "F1/冷藏", "temperature": 4}),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("path", "action", "body"), ENDPOINTS)
async def test_only_permitted_roles_may_post(
    harness: Harness,
    client: Client,
    role: Role,
    path: str,
    action: Action,
    body: dict[str, object],
) -> None:
    at = harness.clock.now() - timedelta(seconds=10)
    harness.readings.write_batch([Reading("208601", at, ProbeStatus.OK, 4.1)])
    response = await client.post(path, json=body, headers=as_roles(role))
    assert response.status == (201 if role in PERMISSIONS[action] else 403), await response.text()
