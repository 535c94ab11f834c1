"""JSON in and out at the HTTP edge: the one refusal shape and the one body parser.

Every refusal answers `{"error", "code", "field", "reason", "params", "problems"}`:

- `code` is a stable snake_case name for the kind of refusal; the pages translate it (see
  `static/i18n/*.json`, keys `error.<code>`), with `params` filling its placeholders;
- `field` names the offending input (a body field such as `batch_no`, a query parameter, a
  header), or is null when no single input is at fault;
- `reason` says why in English, for API users and logs; `error` is the whole message (every
  problem, each as `field: reason`) and `problems` lists them all.

Bodies are read by `parse_body` only: the size is capped, the declared charset must exist and
decode, the JSON must parse, nest at most `MAX_DEPTH` deep, hold finite numbers that fit 64 bits
and text without lone surrogates, and then validate as the route's pydantic model. Each failure
is a 4xx naming the field, never a 500.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.core import validation

_B = TypeVar("_B", bound=BaseModel)


class RequestBody(BaseModel):
    """The base of the routes' request bodies: a field the model does not know is refused (a
    misspelt one would otherwise be dropped unseen), the parsed body cannot be changed, and no
    NaN or infinity passes as a number."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


MAX_DEPTH: Final = 32
MAX_WHOLE: Final = 2**63 - 1  # SQLite's INTEGER; anything larger is a typing accident
_MAX_DIGITS: Final = 20

# The code of a refusal that names no more specific kind, by HTTP status.
STATUS_CODES: Final[Mapping[int, str]] = {
    400: "bad_request",
    401: "not_signed_in",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}

# Chinese text stays readable in the JSON rather than \u-escaped. A bare NaN or Infinity is not
# JSON: the configuration and the readings refuse them, and one that slipped through anyway
# fails this response (500, logged) rather than breaking every client that parses it.
dumps = functools.partial(json.dumps, ensure_ascii=False, allow_nan=False)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)


def refusal_body(
    status: int,
    problems: Sequence[tuple[str | None, str]],
    *,
    code: str | None = None,
    params: Mapping[str, Any] | None = None,
    fix: str | None = None,
) -> dict[str, Any]:
    """The refusal shape for `problems` (field or None, reason); the first one leads. `fix`
    ends the whole message."""
    field, reason = problems[0]
    error = "; ".join(why if name is None else f"{name}: {why}" for name, why in problems)
    return {
        "error": error if fix is None else f"{error}; fix: {fix}",
        "code": code or STATUS_CODES.get(status, "refused"),
        "field": field,
        "reason": reason,
        "params": dict(params or {}),
        "problems": [{"field": name, "reason": why} for name, why in problems],
    }


def refusal(
    status: type[web.HTTPException],
    problems: Sequence[tuple[str | None, str]],
    *,
    code: str | None = None,
    params: Mapping[str, Any] | None = None,
    fix: str | None = None,
) -> web.HTTPException:
    """A 4xx/5xx answer naming each problem's field and reason, with the refusal's `code`."""
    body = refusal_body(status.status_code, problems, code=code, params=params, fix=fix)
    return status(text=dumps(body), content_type="application/json")


def refused(
    status: type[web.HTTPException],
    reason: str,
    *,
    field: str | None = None,
    code: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> web.HTTPException:
    """A refusal with one reason; `error` is the reason itself, without the field's prefix."""
    body = refusal_body(status.status_code, [(None, reason)], code=code, params=params)
    body["field"] = field
    body["problems"][0]["field"] = field
    return status(text=dumps(body), content_type="application/json")


class BodyTooLarge(web.HTTPClientError):
    """413 without aiohttp's required sizes (`HTTPRequestEntityTooLarge` wants both)."""

    status_code = 413


class _TooManyDigits:
    """A JSON integer too long to convert; refused with its path by `_check`."""


class _BodyError(Exception):
    """Why a body cannot be used; `answer` turns it into the refusal."""

    def __init__(
        self,
        status: type[web.HTTPException],
        field: str,
        reason: str,
        code: str,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status, self.field, self.reason, self.code = status, field, reason, code
        self.params = params

    def answer(self, fix: str | None) -> web.HTTPException:
        problems = [(self.field, self.reason)]
        return refusal(self.status, problems, code=self.code, params=self.params, fix=fix)


async def read_text(request: web.Request, fix: str | None = None) -> str:
    """The request's body as text in its declared charset (UTF-8 by default); 4xx otherwise,
    ending with `fix` when given."""
    try:
        return await _text(request)
    except _BodyError as error:
        raise error.answer(fix) from None


async def read_json(request: web.Request, fix: str | None = None) -> object:
    """The request's body as JSON data; 4xx for every way it can fail to be usable JSON."""
    try:
        data = _load(await _text(request))
        _check(data)
    except _BodyError as error:
        raise error.answer(fix) from None
    return data


def validate(
    data: object,
    model: type[_B],
    status: type[web.HTTPException] = web.HTTPUnprocessableEntity,
) -> _B:
    """`data` as `model`; `status` (422) naming each field that does not fit."""
    if not isinstance(data, dict):
        raise refusal(
            status,
            [("body", "the body must be a JSON object")],
            code="body_not_object",
            fix=_fix(model),
        )
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise refusal(
            status,
            _problems(error, model, data),
            code=FIELD_CODES.get(first["type"], _field_code(first["type"])),
            params={"type": first["type"]},
            fix=_fix(model),
        ) from None


async def parse_body(
    request: web.Request,
    model: type[_B],
    status: type[web.HTTPException] = web.HTTPUnprocessableEntity,
) -> _B:
    """The request's JSON body as `model` (see the module's docstring for what is refused).
    A refusal ends with the model's first example, when it has one."""
    return validate(await read_json(request, _fix(model)), model, status)


async def _text(request: web.Request) -> str:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = request.client_max_size
        raise _BodyError(
            BodyTooLarge,
            "body",
            f"larger than {limit} bytes",
            "body_too_large",
            {"limit": limit},
        ) from None
    charset = request.charset or "utf-8"
    try:
        text = raw.decode(charset)
    except LookupError:  # no such codec, or one that is not a text encoding (base64)
        raise _BodyError(
            web.HTTPUnsupportedMediaType,
            "Content-Type",
            f"unknown charset {charset!r}; send UTF-8",
            "charset_unknown",
            {"charset": charset},
        ) from None
    except UnicodeError as error:
        at = getattr(error, "start", 0)
        raise _BodyError(
            web.HTTPBadRequest,
            "body",
            f"not valid {charset} at byte {at}",
            "body_not_text",
            {"charset": charset, "at": at},
        ) from None
    _check_text(text, "body")
    return text


def _load(text: str) -> object:
    try:
        return json.loads(text, parse_int=_whole, parse_constant=float)
    except RecursionError:
        raise _too_deep("body") from None
    except ValueError as error:
        raise _BodyError(
            web.HTTPBadRequest, "body", f"not valid JSON: {error}", "body_not_json"
        ) from None


def _fix(model: type[BaseModel]) -> str | None:
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    if not isinstance(examples, list) or not examples:
        return None
    return f"send a JSON object such as {dumps(examples[0])}"


def _whole(text: str) -> int | _TooManyDigits:
    return _TooManyDigits() if len(text.lstrip("-")) > _MAX_DIGITS else int(text)


def _check(data: object) -> None:
    """Refuse nesting deeper than MAX_DEPTH, numbers beyond range and lone surrogates."""
    pending: list[tuple[object, str, int]] = [(data, "body", 0)]
    while pending:
        value, path, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(path)
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, path)
                pending.append((item, key if path == "body" else f"{path}.{key}", depth + 1))
        elif isinstance(value, list):
            pending.extend(
                (item, str(index) if path == "body" else f"{path}.{index}", depth + 1)
                for index, item in enumerate(value)
            )
        elif isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, _TooManyDigits) or (
            isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WHOLE
        ):
            raise _out_of_range(path, f"a whole number beyond ±{MAX_WHOLE}")
        elif isinstance(value, float) and not math.isfinite(value):
            raise _out_of_range(path, "not a finite number (NaN, Infinity or beyond 1.8e308)")


def _check_text(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise _BodyError(
            web.HTTPBadRequest,
            path,
            f"text with a lone surrogate (\\u{ord(text[error.start]):04x})",
            "text_invalid_unicode",
        ) from None


def _too_deep(path: str) -> _BodyError:
    return _BodyError(
        web.HTTPBadRequest,
        path,
        f"JSON nested deeper than {MAX_DEPTH} levels",
        "json_too_deep",
        {"limit": MAX_DEPTH},
    )


def _out_of_range(path: str, reason: str) -> _BodyError:
    return _BodyError(web.HTTPUnprocessableEntity, path, reason, "number_out_of_range")


FIELD_CODES: Final[Mapping[str, str]] = {
    "missing": "field_missing",
    "extra_forbidden": "field_unknown",
    "literal_error": "field_not_allowed",
    "enum": "field_not_allowed",
}


def _field_code(kind: str) -> str:
    return "field_wrong_type" if kind.endswith(("_type", "_parsing")) else "field_invalid"


def _problems(
    error: ValidationError, model: type[BaseModel], data: object
) -> list[tuple[str | None, str]]:
    problems: list[tuple[str | None, str]] = []
    for item in error.errors():
        field = validation.readable_key(item["loc"], data) if item["loc"] else "body"
        reason = validation.reason(item)
        if item["type"] == "extra_forbidden":
            reason = (
                f"{reason}: not a field of this request; the fields are "
                f"{sorted(model.model_fields)}"
            )
        problems.append((field, reason))
    return problems
