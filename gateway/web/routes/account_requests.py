"""What the sign-in and account routes share: reading a JSON or form body, the account
store and the audit log of the app, and the refusal of an account operation."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from gateway.auth.accounts import AccountConflictError, AccountError, UnknownAccountError
from gateway.auth.password_rules import WeakPasswordError
from gateway.storage.accounts import AccountStore
from gateway.storage.audit_log import AuditLog
from gateway.web.auth_middleware import AUTH, FORMS
from gateway.web.json_http import RequestBody, parse_body, refused, validate

_M = TypeVar("_M", bound=BaseModel)


class FormBody(RequestBody):
    """A body of the sign-in and setup pages, which post HTML forms: a field the model does not
    know is ignored, not refused."""

    model_config = ConfigDict(extra="ignore")


def accounts_of(request: web.Request) -> AccountStore:
    return request.app[AUTH].accounts


def audit_of(request: web.Request) -> AuditLog:
    return request.app[AUTH].audit


def is_form(request: web.Request) -> bool:
    return request.content_type in FORMS


async def read_body(request: web.Request, model: type[_M]) -> _M:
    if not is_form(request):
        return await parse_body(request, model)
    try:
        form = await request.post()
    except ValueError as error:
        raise refused(
            web.HTTPBadRequest,
            f"the form cannot be read: {error}",
            field="body",
            code="form_unreadable",
        ) from None
    return validate({k: v for k, v in form.items() if isinstance(v, str)}, model)


def account_refusal(error: AccountError) -> web.HTTPException:
    """The refusal of an account change; a weak password or a taken name names its field."""
    status: type[web.HTTPError] = web.HTTPUnprocessableEntity
    field = "password" if isinstance(error, WeakPasswordError) else None
    if isinstance(error, UnknownAccountError):
        status = web.HTTPNotFound
    elif isinstance(error, AccountConflictError):
        status = web.HTTPConflict
    return refused(status, str(error), field=field, code=error.code)
