"""POST/GET /api/calibrations: judged against the probe's nearest stored reading, stored with
who and when, a failing probe flagged for repair, and every refusal with its reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp import ClientResponse

from gateway.auth.policy import Role
from gateway.web.routes.checks import checks_health
from gateway.web.routes.checks_http import CHECKS
from probes.reading import ProbeStatus, Reading
from tests.access_support import as_roles
from tests.checks.conftest import Client, Harness

pytestmark = pytest.mark.asyncio

TECH = as_roles(Role.TECHNICIAN, name="li.tech")


def store(harness: Harness, probe: str, seconds_ago: float, value: float | None) -> None:
    at = harness.clock.now() - timedelta(seconds=seconds_ago)
    status = ProbeStatus.OK if value is not None else ProbeStatus.DISCONNECTED
    harness.readings.write_batch([Reading(probe, at, status, value)])


async def refused(response: ClientResponse, status: int, field: str | None = None) -> str:
    assert response.status == status, await response.text()
    body = await response.json()
    if field is not None:
        assert body["field"] == field
    return str(body["error"])


async def test_a_check_within_tolerance_passes_and_is_stored_with_who_and_when(
    harness: Harness, client: Client
) -> None:
    store(harness, "208601", 90, 4.9)
    store(harness, "208601", 30, 4.3)  # the nearest: this one is compared
    response = await client.post(
        "/api/calibrations",
        json={"probe": "208601", "reference_c": 4.0, "thermometer": "TH-07"},
        headers=TECH,
    )
    assert response.status == 201, await response.text()
    body = await response.json()
    assert (body["probe_c"], body["difference_c"], body["tolerance_c"]) == (4.3, 0.3, 0.5)
    assert (body["passed"], body["needs_repair"]) == (True, False)
    assert body["who"] == "li.tech"
    assert body["compartment"] == "F1/冷藏"
    listed = await (await client.get("/api/calibrations", headers=TECH)).json()
    assert [item["id"] for item in listed["calibrations"]] == [body["id"]]
    assert listed["needs_repair"] == []


async def test_tolerance_depends_on_the_compartment_and_a_failure_flags_repair(
    harness: Harness, client: Client
) -> None:
    store(harness, "208601", 20, 4.3)
    store(harness, "208602", 20, -18.0)
    failed = await client.post(
        "/api/calibrations", json={"probe": "208601", "reference_c": 3.7}, headers=TECH
    )
    assert (await failed.json())["passed"] is False  # 0.6 beyond ±0.5 (refrigerated)
    frozen = await client.post(
        "/api/calibrations", json={"probe": "208602", "reference_c": -18.9}, headers=TECH
    )
    assert (await frozen.json())["passed"] is True  # 0.9 within ±1 (frozen)
    listed = await (await client.get("/api/calibrations", headers=TECH)).json()
    assert listed["needs_repair"] == ["208601"]
    health = checks_health(client.app[CHECKS])
    assert list(health["needs_repair"]) == ["208601"]
    assert health["needs_repair"]["208601"]["difference_c"] == 0.6

    await harness.clock.advance(600)  # repaired; checked again
    store(harness, "208601", 10, 4.1)
    again = await client.post(
        "/api/calibrations", json={"probe": "208601", "reference_c": 4.0}, headers=TECH
    )
    assert (await again.json())["passed"] is True
    listed = await (await client.get("/api/calibrations?probe=208601", headers=TECH)).json()
    assert listed["needs_repair"] == []
    assert [item["passed"] for item in listed["calibrations"]] == [True, False]


async def test_refusals_name_the_reason(harness: Harness, client: Client) -> None:
    async def post(body: object, headers: dict[str, str] = TECH) -> ClientResponse:
        return await client.post("/api/calibrations", json=body, headers=headers)

    ok = {"probe": "208601", "reference_c": 4.0}
    message = await refused(await post(ok), 422, "probe")
    assert "208601 has no reading within 5 min" in message
    store(harness, "208601", 400, 4.0)  # too old for the window
    store(harness, "208601", 30, None)  # recent, but disconnected
    message = await refused(await post(ok), 422, "probe")
    assert "only disconnected readings" in message
    store(harness, "208601", 10, 4.2)
    assert (await post(ok)).status == 201

    await refused(await post(ok, as_roles(Role.VACCINATOR)), 403)
    await refused(await post(ok, {}), 401)
    message = await refused(await post({"probe": "999", "reference_c": 4.0}), 422, "probe")
    assert "known probes: 208601, 208602" in message
    message = await refused(await post({"probe": "208601", "reference_c": 150}), 422)
    assert "check the number typed" in message
    await refused(await post({"probe": "208601", "reference_c": "warm"}), 422, "reference_c")
    await refused(await post({**ok, "extra": 1}), 422, "extra")
    response = await client.post("/api/calibrations", data=b"{nope", headers=TECH)
    await refused(response, 400, "body")
    response = await client.post(
        "/api/calibrations",
        data=b'{"probe": "208601", "reference_c": NaN}',
        headers=TECH | {"Content-Type": "application/json"},
    )
    await refused(response, 422, "reference_c")


async def test_text_fields_are_kept_as_text(harness: Harness, client: Client) -> None:
    store(harness, "208601", 10, 4.2)
    script = "<script>alert('x')</script>"
    response = await client.post(
        "/api/calibrations",
        json={"probe": "208601", "reference_c": 4.0, "note": script, "thermometer": "<b>"},
        headers=TECH,
    )
    body = await response.json()
    assert (body["note"], body["thermometer"]) == (script, "<b>")
