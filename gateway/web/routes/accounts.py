"""Accounts, API tokens and the audit log over HTTP, for the admin (signing in and the
first-run setup are `gateway.web.routes.sign_in`)."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import ConfigDict, Field

from gateway.auth.accounts import MAX_TOKEN_DAYS, TOKEN_DAYS, AccountError
from gateway.auth.password_rules import check_new_password
from gateway.auth.policy import Action, Role, shown_to
from gateway.commissioning.forms import render_user_changes
from gateway.storage.audit_log import MAX_ENTRIES
from gateway.web import sizes
from gateway.web.access import HTML, add_route, require
from gateway.web.audit_note import note
from gateway.web.json_http import RequestBody, json_response, refused
from gateway.web.keys import SETTINGS
from gateway.web.naming import person_name
from gateway.web.routes.account_requests import (
    account_refusal,
    accounts_of,
    audit_of,
    read_body,
)


class NewAccountBody(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "wang.fang", "password": "...", "roles": ["manager"], "person": "wang"}
            ]
        },
    )
    name: Annotated[str, Field(min_length=1, max_length=sizes.CODE)]
    password: Annotated[str, Field(min_length=1, max_length=sizes.PASSWORD)]
    roles: Annotated[list[Role], Field(min_length=1, max_length=len(Role))]
    display_name: Annotated[str, Field(max_length=sizes.LABEL)] = ""
    person: Annotated[str, Field(max_length=sizes.CODE)] | None = None


class AccountChangeBody(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"roles": ["manager"], "disabled": False}]},
    )
    roles: Annotated[list[Role], Field(min_length=1, max_length=len(Role))] | None = None
    display_name: Annotated[str, Field(max_length=sizes.LABEL)] | None = None
    person: Annotated[str, Field(max_length=sizes.CODE)] | None = None
    disabled: bool | None = None


class PasswordBody(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"password": "..."}]},
    )
    password: Annotated[str, Field(min_length=1, max_length=sizes.PASSWORD)]


class NewTokenBody(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"account": "county-sync", "name": "county", "scope": ["view"], "days": 90}
            ]
        },
    )
    account: Annotated[str, Field(min_length=1, max_length=sizes.CODE)]
    name: Annotated[str, Field(min_length=1, max_length=sizes.LABEL)]
    # None: every action of the account
    scope: Annotated[list[Action], Field(max_length=len(Action))] | None = None
    days: Annotated[int, Field(ge=1, le=MAX_TOKEN_DAYS)] = TOKEN_DAYS


def add_account_routes(app: web.Application) -> None:
    """The routes of this module; `install_auth` must have run on `app`."""
    add_route(app, "GET", "/api/accounts", list_accounts, Action.ACCOUNTS)
    add_route(app, "POST", "/api/accounts", create_account, Action.ACCOUNTS, body=NewAccountBody)
    add_route(
        app,
        "PATCH",
        "/api/accounts/{name}",
        change_account,
        Action.ACCOUNTS,
        body=AccountChangeBody,
    )
    add_route(
        app,
        "POST",
        "/api/accounts/{name}/password",
        reset_password,
        Action.ACCOUNTS,
        body=PasswordBody,
    )
    add_route(app, "GET", "/api/tokens", list_tokens, Action.ACCOUNTS, query=("account",))
    add_route(app, "POST", "/api/tokens", create_token, Action.ACCOUNTS, body=NewTokenBody)
    add_route(app, "DELETE", "/api/tokens/{id}", revoke_token, Action.ACCOUNTS)
    add_route(app, "GET", "/api/audit", audit_entries, Action.AUDIT_VIEW, query=("limit", "before"))
    add_route(app, "GET", "/api/accounts/changes", account_changes, Action.ACCOUNTS)
    add_route(
        app, "GET", "/api/accounts/changes/form", account_change_forms, Action.ACCOUNTS,
        produces=HTML,
    )  # fmt: skip


async def list_accounts(request: web.Request) -> web.Response:
    require(request, Action.ACCOUNTS)
    return json_response(
        {"accounts": [account.to_json() for account in accounts_of(request).accounts()]}
    )


async def create_account(request: web.Request) -> web.Response:
    require(request, Action.ACCOUNTS)
    accounts = accounts_of(request)
    body = await read_body(request, NewAccountBody)
    try:
        check_new_password(body.password, account=body.name, display_name=body.display_name)
        password_hash = await accounts.passwords.hash_async(body.password)
        account = accounts.add(
            body.name,
            password_hash,
            body.roles,
            body.display_name,
            body.person,
            by=require(request, Action.ACCOUNTS).name,
        )
    except AccountError as error:
        raise account_refusal(error) from None
    roles = ", ".join(sorted(account.roles))
    note(request, f"created account {_shown(request, account.name)}: {roles}")
    return json_response(account.to_json(), status=201)


async def change_account(request: web.Request) -> web.Response:
    require(request, Action.ACCOUNTS)
    name = request.match_info["name"]
    body = await read_body(request, AccountChangeBody)
    given = body.model_fields_set
    changes: dict[str, Any] = {key: getattr(body, key) for key in given}
    try:
        account = accounts_of(request).update(
            name, **changes, by=require(request, Action.ACCOUNTS).name
        )
    except AccountError as error:
        raise account_refusal(error) from None
    what = ", ".join(f"{key}={_describe(changes[key])}" for key in sorted(changes))
    note(request, f"changed account {_shown(request, name)}: {what or 'nothing'}")
    return json_response(account.to_json())


def _describe(value: object) -> str:
    if isinstance(value, list):
        return "/".join(str(item) for item in value)
    return str(value)


async def account_changes(request: web.Request) -> web.Response:
    """Every account added or changed (display name, roles, state), newest first, with who
    did it: the real-name record behind 附表5."""
    require(request, Action.ACCOUNTS)
    try:
        changes = accounts_of(request).changes()
    except AccountError as error:
        raise account_refusal(error) from None
    return json_response({"changes": [change.to_json() for change in changes]})


async def account_change_forms(request: web.Request) -> web.Response:
    """附表5 系统用户变更申请表 of each account change, ready to print and sign."""
    require(request, Action.ACCOUNTS)
    try:
        changes = accounts_of(request).changes()
    except AccountError as error:
        raise account_refusal(error) from None
    in_force = request.app.get(SETTINGS)
    unit = in_force.current.unit if in_force is not None else None
    page = render_user_changes(changes, unit.name if unit else "", unit.code if unit else "")
    return web.Response(text=page, content_type="text/html", charset="utf-8")


async def reset_password(request: web.Request) -> web.Response:
    require(request, Action.ACCOUNTS)
    accounts = accounts_of(request)
    name = request.match_info["name"]
    body = await read_body(request, PasswordBody)
    try:
        account = accounts.account(name)
        check_new_password(body.password, account=name, display_name=account.display_name)
        accounts.set_password(name, await accounts.passwords.hash_async(body.password))
    except AccountError as error:
        raise account_refusal(error) from None
    note(request, f"reset the password of {_shown(request, name)}; its sessions ended")
    return json_response({"ok": True})


async def list_tokens(request: web.Request) -> web.Response:
    require(request, Action.ACCOUNTS)
    account = request.query.get("account") or None
    return json_response(
        {"tokens": [token.to_json() for token in accounts_of(request).tokens(account)]}
    )


async def create_token(request: web.Request) -> web.Response:
    require(request, Action.ACCOUNTS)
    body = await read_body(request, NewTokenBody)
    try:
        secret, token = accounts_of(request).create_token(
            body.account, body.name, scope=body.scope, days=body.days
        )
    except AccountError as error:
        raise account_refusal(error) from None
    note(
        request, f"created API token {token.id} ({token.name}) for {_shown(request, token.account)}"
    )
    return json_response(token.to_json() | {"token": secret}, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    require(request, Action.ACCOUNTS)
    text = request.match_info["id"]
    if not _is_id(text):
        raise refused(web.HTTPNotFound, f"API token id {text!r}: ids are whole numbers", field="id")
    try:
        token = accounts_of(request).revoke_token(int(text))
    except AccountError as error:
        raise account_refusal(error) from None
    note(
        request, f"revoked API token {token.id} ({token.name}) of {_shown(request, token.account)}"
    )
    return json_response(token.to_json())


async def audit_entries(request: web.Request) -> web.Response:
    shown = shown_to(require(request, Action.AUDIT_VIEW))
    limit_text = request.query.get("limit", "100")
    before_text = request.query.get("before")
    if not _is_id(limit_text) or not 1 <= int(limit_text) <= MAX_ENTRIES:
        raise refused(
            web.HTTPBadRequest,
            f"limit={limit_text!r}; fix: a whole number from 1 to {MAX_ENTRIES}",
            field="limit",
        )
    if before_text is not None and not _is_id(before_text):
        raise refused(
            web.HTTPBadRequest, f"before={before_text!r}; fix: an entry id", field="before"
        )
    entries = audit_of(request).entries(
        int(limit_text), None if before_text is None else int(before_text)
    )
    # Each account by its display name too, so the page names people, not logins.
    names = {account.name: account.display_name for account in accounts_of(request).accounts()}
    return json_response(
        {
            "entries": [
                entry.to_json(shown) | {"user_display": names.get(entry.user or "") or None}
                for entry in entries
            ]
        }
    )


def _is_id(text: str) -> bool:
    """A row id: ASCII digits that fit SQLite's INTEGER."""
    return text.isascii() and text.isdigit() and len(text) < 19


def _shown(request: web.Request, name: str) -> str:
    """An account in the audit log: its display name, its sign-in name beside it."""
    shown = person_name(request.app, name)
    return name if shown == name else f"{shown} ({name})"
