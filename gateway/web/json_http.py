"""JSON in and out for the gateway's routes: bodies validated by pydantic, refusals as
`{"error", "field", "reason", "problems"}` that name each field and its reason."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.core import validation

_B = TypeVar("_B", bound=BaseModel)

# Chinese text stays readable in the JSON rather than \u-escaped. A bare NaN or Infinity is not
# JSON: the configuration and the readings refuse them, and one that slipped through anyway
# fails this response (500, logged) rather than breaking every client that parses it.
dumps = functools.partial(json.dumps, ensure_ascii=False, allow_nan=False)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)


def refusal(
    status: type[web.HTTPException], problems: Sequence[tuple[str, str]]
) -> web.HTTPException:
    """A 4xx/5xx answer naming the first problem's field and reason, and all of them."""
    field, reason = problems[0]
    body = {
        "error": "; ".join(f"{name}: {why}" for name, why in problems),
        "field": field,
        "reason": reason,
        "problems": [{"field": name, "reason": why} for name, why in problems],
    }
    return status(text=dumps(body), content_type="application/json")


async def parse_body(request: web.Request, model: type[_B]) -> _B:
    """The request's JSON body as `model`; 400 when it is not JSON, 422 naming each field."""
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise refusal(web.HTTPBadRequest, [("body", f"not valid JSON: {error}")]) from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise refusal(web.HTTPUnprocessableEntity, _problems(error, model, data)) from None


def _problems(
    error: ValidationError, model: type[BaseModel], data: object
) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors():
        field = validation.readable_key(item["loc"], data) if item["loc"] else "body"
        reason = validation.reason(item)
        if item["type"] == "extra_forbidden":
            reason = f"not a field of this request; the fields are {sorted(model.model_fields)}"
        problems.append((field, reason))
    return problems
