"""GET /api/events: the pages' Server-Sent Events, read from a real server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from gateway.auth.policy import Role
from gateway.web.keys import RECORDER
from probes.reading import ProbeStatus, Reading
from tests.web.conftest import Site, sign_in

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]
Client = TestClient[web.Request, web.Application]


async def _next_event(stream: ClientResponse) -> tuple[str, Any]:
    """The next event's name and data, skipping retry and keep-alive lines."""
    name = ""
    while True:
        line = (await asyncio.wait_for(stream.content.readline(), 10)).decode().rstrip("\n")
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            return name, json.loads(line.removeprefix("data: "))


async def test_a_signed_in_page_gets_the_state_then_each_new_reading(
    site: Site, client: Client
) -> None:
    await sign_in(client, Role.VACCINATOR.value)
    recorder = asyncio.create_task(site.app[RECORDER].run())
    try:
        async with client.get("/api/events") as stream:
            assert stream.headers["Content-Type"] == "text/event-stream"
            first = dict([await _next_event(stream), await _next_event(stream)])
            assert first["alarms"]["open"] == 0
            assert first["alarms"]["people"]["wang"]
            probe = first["fridges"][0]["probes"][0]["code"]
            assert first["fridges"][0]["temperature"] is None

            await site.app[RECORDER].put(Reading(probe, site.clock.now(), ProbeStatus.OK, 4.2))
            await site.clock.advance(5)  # the recorder's flush interval
            name, fridges = await _next_event(stream)
    finally:
        recorder.cancel()
    assert name == "fridges"
    assert fridges[0]["temperature"] == 4.2


async def test_the_stream_needs_a_sign_in(client: Client) -> None:
    refused = await client.get("/api/events")

    assert refused.status == 401
    assert (await refused.json())["code"] == "not_signed_in"
