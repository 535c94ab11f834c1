"""Personal data masked at one place: every read route and export of the full app, walked with
every role and signed out, after a recipient, a dose, an ID-card scan and a request naming an ID
number in its path were recorded. A role without `Action.VIEW_PERSONAL_DATA` finds no ID
number, phone, name or address of the person anywhere: not in JSON, not in an HTML export, not
in a scan's base64, not in the audit log. The roles with it see the person whole, so the walk
proves it would notice. Routes are read from the app's router: a route added later is walked
too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from gateway.auth.policy import PERMISSIONS, Action, Role
from gateway.web.routes.live import EVENT_STREAM, SOURCES
from ledger.masking import PersonalDataFormatter, mask_raw, mask_text
from tests.ledger.conftest import HEPB, SHIPMENT, code
from tests.ledger.test_ledger_routes_support import DOSE, PERSON
from tests.web.conftest import Site
from tests.web_support import bearer

Client = TestClient[web.Request, web.Application]

ID_NUMBER = PERSON["id_number"]
SECRETS = {
    "id_number": ID_NUMBER,
    "phone": PERSON["phone"],
    "name": PERSON["name"],
    "address": PERSON["address"],
}
# An ID card scanned at a station (with an AIM identifier), and another person's mobile number
# typed into a scanner: both must be masked in the scans' text and base64.
SCANNED_ID = "110101199003074258"
SCANNED = {"id_number": SCANNED_ID, "phone": "13987654321"}


def _fill(canonical: str, record_id: str) -> str:
    values = {
        "archive_no": PERSON["archive_no"], "record_id": record_id, "code": code(HEPB, 1),
        "station": "desk", "name": "manager", "ref": "1", "token": "garbage", "id": "1",
    }  # fmt: skip
    return re.sub(r"\{(\w+)[^}]*\}", lambda found: values.get(found.group(1), "0"), canonical)


def _decoded(body: Any) -> list[str]:
    """Every base64 value of a JSON body, decoded (a scan's raw bytes hide in them)."""
    found: list[str] = []
    if isinstance(body, dict):
        for key, value in body.items():
            if key.endswith("base64") and isinstance(value, str):
                found.append(base64.b64decode(value).decode("utf-8", "replace"))
            else:
                found.extend(_decoded(value))
    elif isinstance(body, list):
        for item in body:
            found.extend(_decoded(item))
    return found


async def seed_personal_data(client: Client, tokens: Mapping[str, str]) -> str:
    """A recipient, a dose, an ID-card scan, a mobile number scanned and an audited request
    naming an ID number: the personal data the walks look for. Returns the dose's record id."""
    manager, vaccinator = bearer(tokens[Role.MANAGER]), bearer(tokens[Role.VACCINATOR])
    steps = [
        ("/api/ledger/catalogue/import", SHIPMENT, manager),
        ("/api/ledger/stock/receive", {"scan": code(HEPB, 1), "event_id": "r1"}, manager),
        ("/api/ledger/recipients", PERSON, vaccinator),
        ("/api/scans", {"raw": "]Q1" + SCANNED_ID, "scanner": "s1", "station": "desk"}, manager),
        ("/api/scans", {"raw": SCANNED["phone"], "scanner": "s1", "station": "desk"}, manager),
    ]
    for path, body, headers in steps:
        response = await client.post(path, json=body, headers=headers)
        assert response.status == 201, (path, await response.text())
    dose = {**DOSE, "scan": code(HEPB, 1), "event_id": "d1", "dose_no": 1}
    given = await client.post("/api/ledger/doses", json=dose, headers=vaccinator)
    assert given.status == 201, await given.text()
    # A request naming an ID number in its path lands in the audit log as it came.
    stray = await client.put(f"/api/ledger/recipients/{ID_NUMBER}", json={}, headers=manager)
    assert stray.status in {404, 422}
    record_id = (await given.json())["record_id"]
    assert isinstance(record_id, str)
    return record_id


async def _first_events(response: ClientResponse) -> str:
    """What an event stream sends at once (the state of each kind), not waiting for its end."""
    events: list[str] = []
    while len(events) < len(SOURCES):
        line = (await asyncio.wait_for(response.content.readline(), 10)).decode()
        if line.startswith("data: "):
            events.append(line.removeprefix("data: "))
    response.close()
    return "\n".join(events)


@pytest.mark.asyncio
async def test_every_route_and_export_by_every_role_masks_personal_data(
    site: Site, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = {role: site.accounts.create_token(role.value, "walk")[0] for role in Role}
    record_id = await seed_personal_data(client, tokens)
    reads = [
        route
        for route in site.app.router.routes()
        if route.method == "GET" and route.resource is not None
    ]
    identities: dict[str, dict[str, str]] = {"signed out": {}}
    identities |= {role.value: bearer(tokens[role]) for role in Role}
    seen_whole: set[str] = set()
    checked = 0
    paths = sorted(
        {_fill(route.resource.canonical, record_id) for route in reads if route.resource}
    )
    paths.append("/api/ledger/resolve")  # a read by POST: what a scan is
    for path in paths:
        for who, headers in identities.items():
            if path == "/api/ledger/resolve":
                response = await client.post(path, json={"scan": SCANNED_ID}, headers=headers)
            else:
                response = await client.get(path, headers=headers)
            if response.content_type == EVENT_STREAM:
                text = await _first_events(response)
            else:
                text = await response.text()
            if response.content_type == "application/json":
                text += "\n".join(_decoded(json.loads(text)))
            may_see = who in {role.value for role in PERMISSIONS[Action.VIEW_PERSONAL_DATA]}
            for field, value in [*SECRETS.items(), *SCANNED.items()]:
                checked += 1
                if may_see:
                    seen_whole.update({field} if value in text else set())
                else:
                    assert value not in text, f"{who} sees {field} unmasked in GET {path}"
    assert seen_whole == set(SECRETS), "the roles that may see personal data see it whole"
    for record in caplog.records:
        line = PersonalDataFormatter().format(record)
        assert ID_NUMBER not in line
        assert SCANNED_ID not in line
    assert len(paths) >= 55, paths
    print(f"masking walk: {len(paths)} routes x {len(identities)} identities x "
          f"{len(SECRETS) + len(SCANNED)} fields = {checked} checks")  # fmt: skip


def test_free_text_masks_id_and_mobile_numbers_in_place() -> None:
    assert mask_text(f"scan {SCANNED_ID} refused") == "scan 1101************58 refused"
    assert mask_text("call 13987654321.") == "call 139****4321."
    assert mask_raw(b"]Q1" + SCANNED_ID.encode() + b"\x1d") == b"]Q11101************58\x1d"
    kept = ["8" * 18, code(HEPB, 1), "0106901234567890172812311012345", "order 4711", "12345678"]
    for text in kept:
        assert mask_text(text) == text, "trace codes, GS1 strings and the placeholder stay"
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "bad %s", (SCANNED_ID,), None)
    assert SCANNED_ID not in PersonalDataFormatter().format(record)
