"""Every text field of every request body has a maximum, enforced at the edge: the body
models of all routes of the full app are walked (nested models, optional fields, list items
and mappings included), and oversized reasons, names and notes are refused with 422 naming
the field, storing nothing."""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Union

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from annotated_types import MaxLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from gateway.auth.policy import Role
from gateway.web.access import route_specs
from tests.web.conftest import Site
from tests.web_support import bearer

Client = TestClient[web.Request, web.Application]
SEQUENCES = (list, tuple, set, frozenset)


def _bound(extra: typing.Iterable[Any]) -> int | None:
    for item in extra:
        if isinstance(item, MaxLen):
            return item.max_length
        if isinstance(item, FieldInfo):
            found = _bound(item.metadata)
            if found is not None:
                return found
        max_length = getattr(item, "max_length", None)
        if isinstance(max_length, int):
            return max_length
    return None


def unbounded(annotation: Any, bound: int | None, where: str, seen: set[type]) -> list[str]:
    """The places in `annotation` that hold text (or a mapping) without a maximum length."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return unbounded(args[0], _bound(args[1:]) or bound, where, seen)
    if annotation is str or origin is dict:
        return [] if bound is not None else [where]
    if origin in (Union, types.UnionType):
        return [found for arg in args for found in unbounded(arg, bound, where, seen)]
    if origin in SEQUENCES:
        items = [found for arg in args for found in unbounded(arg, None, f"{where}[]", seen)]
        return items + ([] if bound is not None else [where])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_unbounded(annotation, seen)
    return []


def model_unbounded(model: type[BaseModel], seen: set[type]) -> list[str]:
    if model in seen:
        return []
    seen.add(model)
    found = []
    for name, field in model.model_fields.items():
        where = f"{model.__name__}.{name}"
        found += unbounded(field.annotation, _bound(field.metadata), where, seen)
    return found


def test_every_text_field_of_every_body_has_a_maximum(site: Site) -> None:
    seen: set[type] = set()
    bodies = {r: spec.body for r, spec in route_specs(site.app).items() if spec.body is not None}
    found = [place for model in bodies.values() for place in model_unbounded(model, seen)]
    assert found == [], f"text fields without a maximum: {found}"
    assert len(bodies) >= 35
    fields = sum(len(model.model_fields) for model in seen)
    print(f"sizes: {len(bodies)} bodies, {len(seen)} models, {fields} fields, all bounded")


@pytest.mark.asyncio
async def test_oversized_reasons_names_and_notes_are_refused(site: Site, client: Client) -> None:
    long = "长" * 100_000
    reading = {"compartment": "F1/冷藏", "temperature": 5, "note": long}
    account = {"name": "zhang", "password": "plum orchard lantern", "roles": ["vaccinator"]}
    cases = [
        (Role.MANAGER, "/api/alarms/1/close", {"cause": long, "action": "x"}, "cause"),
        (Role.MANAGER, "/api/manual-readings", reading, "note"),
        (Role.VACCINATOR, "/api/scans", {"raw": "x", "scanner": long, "station": "s"}, "scanner"),
        (Role.ADMIN, "/api/accounts", account | {"display_name": long}, "display_name"),
        (Role.ADMIN, "/api/tokens", {"account": "county", "name": long}, "name"),
    ]
    for role, path, body, field in cases:
        token = site.accounts.create_token(role.value, "sizes")[0]
        response = await client.post(path, json=body, headers=bearer(token))
        assert response.status in {400, 422}, (path, await response.text())
        assert (await response.json())["field"] == field, path
    assert site.accounts.get("zhang") is None, "nothing stored"
    assert site.accounts.tokens("county") == []
    assert all(len(entry.summary) < 1000 for entry in site.audit.entries(500))
