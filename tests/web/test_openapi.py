"""The served OpenAPI document is written from the route table: every route, its body model,
and the roles that may call it."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.auth.policy import PERMISSIONS
from gateway.web.access import OPEN, route_specs
from tests.web.conftest import Site
from tests.web_support import bearer

pytestmark = pytest.mark.asyncio


async def test_the_document_lists_every_route_its_body_and_its_roles(
    site: Site, client: TestClient[Any, Any]
) -> None:
    assert (await client.get("/api/openapi.json")).status == 401
    secret, _ = site.accounts.create_token("county", "reader")
    response = await client.get("/api/openapi.json", headers=bearer(secret))
    assert response.status == 200
    document = await response.json()
    assert document["openapi"] == "3.1.0"
    specs = {
        (route.method.lower(), route.resource.canonical): spec
        for route, spec in route_specs(site.app).items()
        if route.resource is not None and route.method != "HEAD"
    }
    listed = {
        (method, path): operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert set(listed) == set(specs)
    assert len(listed) > 60
    for key, spec in specs.items():
        operation = listed[key]
        roles = [] if spec.action is OPEN else sorted(PERMISSIONS[spec.action])
        assert operation["x-roles"] == roles, key
        assert ("requestBody" in operation) == (spec.body is not None), key
        assert set(operation["responses"]["2XX"]["content"]) == set(spec.produces), key
    schemas = document["components"]["schemas"]
    silence = listed[("post", "/api/silences")]["requestBody"]["content"]["application/json"]
    assert silence["schema"] == {"$ref": "#/components/schemas/SilenceBody"}
    assert set(schemas["SilenceBody"]["required"]) == {"why", "until"}
    assert schemas["Refusal"]["required"] == ["error", "code", "field", "reason", "params"]
    assert listed[("get", "/api/ledger/stations/{station}/feed")]["parameters"][0]["name"] == (
        "station"
    )
