"""The OpenAPI 3.1 document of the gateway, written from the route table and the body models.

Every route added with `add_route` is an operation: its path parameters, its JSON body (the
pydantic model's JSON Schema), what it answers with, and who may call it (`x-action` and
`x-roles`, read from the one permission table). Refusals share one schema, `Refusal`. The
document is built once per app, on the first request of `GET /api/openapi.json`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib.metadata import version
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.auth.policy import PERMISSIONS, Action
from gateway.web.access import JSON, OPEN, RouteSpec, add_route, route_specs
from gateway.web.json_http import json_response

PATH: Final = "/api/openapi.json"
_PARAMETER = re.compile(r"{(\w+)}")
_DOCUMENT = web.AppKey("openapi_document", dict[str, Any])

REFUSAL: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["error", "code", "field", "reason", "params"],
    "properties": {
        "error": {"type": "string", "description": "the whole message, every problem"},
        "code": {"type": "string", "description": "stable name of the kind of refusal"},
        "field": {"type": ["string", "null"], "description": "the offending input"},
        "reason": {"type": "string", "description": "why, in English"},
        "params": {"type": "object", "description": "values for a translation of `code`"},
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}


def add_openapi_route(app: web.Application) -> None:
    add_route(app, "GET", PATH, openapi_json, Action.VIEW)
    app[_DOCUMENT] = {}  # filled on the first request: nothing is added to start-up


async def openapi_json(request: web.Request) -> web.Response:
    """This document."""
    document = request.app[_DOCUMENT]
    if not document:
        document.update(openapi_document(route_specs(request.app)))
    return json_response(document)


def openapi_document(routes: Mapping[web.AbstractRoute, RouteSpec]) -> dict[str, Any]:
    """The document for `routes` (see the module's docstring)."""
    models = sorted({spec.body for spec in routes.values() if spec.body}, key=_name)
    refs, schemas = _schemas(models)
    paths: dict[str, dict[str, Any]] = {}
    for route, spec in routes.items():
        if route.method == "HEAD" or route.resource is None:
            continue
        path = route.resource.canonical
        ref = refs.get(spec.body) if spec.body else None
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, path, spec, ref)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "coldchain gateway",
            "version": version("coldchain-gateway"),
            "description": "The clinic gateway's JSON API. Refusals answer with `Refusal`.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Refusal": REFUSAL, **schemas},
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "an API token"},
                "session": {"type": "apiKey", "in": "cookie", "name": "coldchain_session"},
            },
        },
    }


def _name(model: type[BaseModel]) -> str:
    return model.__name__


def _schemas(
    models: list[type[BaseModel]],
) -> tuple[dict[type[BaseModel], dict[str, Any]], dict[str, Any]]:
    if not models:
        return {}, {}
    keyed, top = models_json_schema(
        [(model, "validation") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    refs = {model: keyed[(model, "validation")] for model in models}
    defs: dict[str, Any] = top.get("$defs", {})
    return refs, defs


def _operation(
    route: web.AbstractRoute, path: str, spec: RouteSpec, body: dict[str, Any] | None
) -> dict[str, Any]:
    handler = route.handler
    summary = (handler.__doc__ or "").strip().splitlines()
    roles = sorted(PERMISSIONS[spec.action]) if spec.action is not None else []
    operation: dict[str, Any] = {
        "operationId": f"{route.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path)}",
        "x-action": spec.action.value if spec.action is not None else "open",
        "x-roles": [str(role) for role in roles],
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PARAMETER.findall(path)
        ]
        + [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
            for name in spec.query
        ],
        "responses": _responses(path, spec),
    }
    if summary:
        operation["summary"] = summary[0]
    if spec.action is OPEN:
        operation["security"] = []
    else:
        operation["security"] = [{"token": []}, {"session": []}]
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    return operation


def _responses(path: str, spec: RouteSpec) -> dict[str, Any]:
    refusal = {"$ref": "#/components/schemas/Refusal"}
    done: dict[str, Any] = {"description": "done"}
    done["content"] = {kind: {"schema": {}} for kind in spec.produces}
    refused: dict[str, Any] = {
        "description": "refused: the code names the kind, the field the input",
        "content": {JSON: {"schema": refusal}},
    }
    if not path.startswith("/api/"):
        refused["content"].update({kind: {"schema": {}} for kind in spec.produces})
    return {
        "2XX": done,
        "3XX": {"description": "signed-in pages send the browser on"},
        "4XX": refused,
        "503": {
            "description": "a store or a part of the gateway cannot answer now; retry",
            "content": {JSON: {"schema": refusal}},
        },
    }
