"""Signing in and out, first-run setup, accounts and API tokens, and the audit log over HTTP.

`GET /login` and `GET /setup` are small self-contained pages (Chinese, `?lang=en` for
English) that post plain forms, so they work on any phone without scripts. The same routes
take JSON for scripts and the web UI. Answers to a wrong name or password never say which of
the two was wrong.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth.accounts import (
    MAX_TOKEN_DAYS,
    TOKEN_DAYS,
    AccountConflictError,
    AccountError,
    SignInRefusedError,
    SignInThrottledError,
    UnknownAccountError,
)
from gateway.auth.password_rules import WeakPasswordError, check_new_password
from gateway.auth.policy import Action, Role, User, shown_to
from gateway.commissioning.forms import render_user_changes
from gateway.storage.accounts import AccountStore
from gateway.storage.audit_log import MAX_ENTRIES, AuditLog
from gateway.web import sizes
from gateway.web.access import HTML, JSON, OPEN, add_route, current_user, require
from gateway.web.audit_note import note
from gateway.web.auth_middleware import (
    AUTH,
    CSRF_FIELD,
    FORMS,
    SESSION_COOKIE,
    Via,
    forget_session,
    remember_session,
    session_csrf,
    via,
)
from gateway.web.json_http import dumps, json_response, parse_body, refusal_body, refused, validate
from gateway.web.keys import SETTINGS

_M = TypeVar("_M", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SignInBody(_Body):
    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        json_schema_extra={"examples": [{"name": "wang.fang", "password": "..."}]},
    )
    name: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=1, max_length=1000)]
    next: Annotated[str, Field(max_length=sizes.PATH)] = "/"
    lang: Annotated[str, Field(max_length=sizes.CODE)] = "zh"


class SetupBody(_Body):
    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        json_schema_extra={"examples": [{"name": "admin", "password": "...", "display_name": ""}]},
    )
    name: Annotated[str, Field(min_length=1, max_length=sizes.CODE)]
    display_name: Annotated[str, Field(max_length=sizes.LABEL)] = ""
    password: Annotated[str, Field(min_length=1, max_length=sizes.PASSWORD)]
    lang: Annotated[str, Field(max_length=sizes.CODE)] = "zh"


class NewAccountBody(_Body):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
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


class AccountChangeBody(_Body):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        json_schema_extra={"examples": [{"roles": ["manager"], "disabled": False}]},
    )
    roles: Annotated[list[Role], Field(min_length=1, max_length=len(Role))] | None = None
    display_name: Annotated[str, Field(max_length=sizes.LABEL)] | None = None
    person: Annotated[str, Field(max_length=sizes.CODE)] | None = None
    disabled: bool | None = None


class PasswordBody(_Body):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        json_schema_extra={"examples": [{"password": "..."}]},
    )
    password: Annotated[str, Field(min_length=1, max_length=sizes.PASSWORD)]


class NewTokenBody(_Body):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
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
    add_route(app, "GET", "/login", login_page, OPEN, produces=HTML, query=("lang", "next"))
    add_route(app, "GET", "/setup", setup_page, OPEN, produces=HTML, query=("lang",))
    add_route(app, "POST", "/setup", setup, OPEN, body=SetupBody, produces=(JSON, *HTML))
    add_route(app, "POST", "/api/session", sign_in, OPEN, body=SignInBody)
    add_route(app, "DELETE", "/api/session", sign_out, OPEN)
    add_route(app, "GET", "/api/session", who_am_i, Action.VIEW)
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


def _accounts(request: web.Request) -> AccountStore:
    return request.app[AUTH].accounts


def _audit(request: web.Request) -> AuditLog:
    return request.app[AUTH].audit


def _is_form(request: web.Request) -> bool:
    return request.content_type in FORMS


async def _body(request: web.Request, model: type[_M]) -> _M:
    if not _is_form(request):
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


def _refused(error: AccountError) -> web.HTTPException:
    """The refusal of an account change; a weak password or a taken name names its field."""
    status: type[web.HTTPError] = web.HTTPUnprocessableEntity
    field = "password" if isinstance(error, WeakPasswordError) else None
    if isinstance(error, UnknownAccountError):
        status = web.HTTPNotFound
    elif isinstance(error, AccountConflictError):
        status = web.HTTPConflict
    return refused(status, str(error), field=field, code=error.code)


def _redirect(location: str) -> web.Response:
    """303: the browser follows with a GET."""
    return web.Response(status=303, headers={"Location": location})


def _lang(value: str | None) -> str:
    return "en" if value == "en" else "zh"


def _local_next(value: str) -> str:
    r"""Only a path on this gateway; anything else (another site) becomes the start page. A
    browser drops tabs and line breaks from a URL and reads a backslash as a slash, so a path
    holding either ("/\t/evil", "/\evil") could name another host: refused too."""
    plain = value.isprintable() and not any(char.isspace() or char == "\\" for char in value)
    if plain and value.startswith("/") and not value.startswith("//"):
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc:
            return value
    return "/"


# pages

_TEXT = {
    "zh": {
        "title": "冷链监测 · 登录",
        "setup_title": "冷链监测 · 首次设置",
        "name": "账号",
        "display_name": "姓名",
        "password": "密码",
        "submit": "登录",
        "create": "创建管理员并登录",
        "brand": "冷链监测",
        "switch": "English",
        "signed_in": "当前已登录：",
        "wrong": "账号或密码错误。",
        "throttled": "密码错误次数过多，请 {seconds} 秒后再试，或联系管理员重置密码。",
        "setup_intro": "本网关还没有任何账号。请创建第一个管理员账号（密码至少 8 位）。",
        "setup_done": "本网关已完成设置。请登录。",
        "expired": "登录已过期，请重新登录。",
    },
    "en": {
        "title": "Cold-chain monitoring · Sign in",
        "setup_title": "Cold-chain monitoring · First-run setup",
        "name": "Account",
        "display_name": "Full name",
        "password": "Password",
        "submit": "Sign in",
        "create": "Create the admin and sign in",
        "brand": "Cold-chain monitoring",
        "switch": "中文",
        "signed_in": "Signed in as: ",
        "wrong": "Wrong account name or password.",
        "throttled": "Too many wrong passwords: try again in {seconds} s, or ask an admin "
        "to set a new password.",
        "setup_intro": "This gateway has no accounts yet. Create the first admin account "
        "(password of at least 8 characters).",
        "setup_done": "This gateway is already set up. Please sign in.",
        "expired": "Your session expired: sign in again.",
    },
}

_PAGE = """<!doctype html>
<html lang="{html_lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/app.css">
</head>
<body>
<header class="bar"><span class="brand">{brand}</span>
<a class="lang" href="{switch_href}">{switch}</a></header>
<main class="plain"><section class="panel sign-in">
<h1>{title}</h1>
{content}
</section></main></body></html>
"""

# The pages load the stylesheet from here and nothing else, and run no script.
_CSP = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'"


def _page(status: int, lang: str, title_key: str, content: str, switch_href: str) -> web.Response:
    text = _TEXT[lang]
    body = _PAGE.format(
        html_lang="en" if lang == "en" else "zh-CN",
        title=escape(text[title_key]),
        brand=escape(text["brand"]),
        switch=escape(text["switch"]),
        switch_href=escape(switch_href),
        content=content,
    )
    response = web.Response(status=status, text=body, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["Cache-Control"] = "no-store"
    return response


def _input(label: str, name: str, kind: str, value: str = "", autocomplete: str = "") -> str:
    return (
        f'<label>{escape(label)}<input name="{name}" type="{kind}" value="{escape(value)}"'
        f' autocomplete="{autocomplete}" required></label>'
    )


def _login_response(
    request: web.Request,
    lang: str,
    status: int,
    *,
    problem: str = "",
    name: str = "",
    nxt: str = "/",
) -> web.Response:
    text = _TEXT[lang]
    parts = []
    user = current_user(request)
    if user is not None:
        parts.append(f"<p>{escape(text['signed_in'])}{escape(user.display_name or user.name)}</p>")
    if problem:
        parts.append(f'<p class="problem">{escape(problem)}</p>')
    csrf = session_csrf(request)
    hidden = [("next", nxt), ("lang", lang)] + ([(CSRF_FIELD, csrf)] if csrf else [])
    parts.append(
        '<form method="post" action="/api/session">'
        + "".join(
            f'<input type="hidden" name="{key}" value="{escape(value)}">' for key, value in hidden
        )
        + _input(text["name"], "name", "text", name, "username")
        + _input(text["password"], "password", "password", "", "current-password")
        + f'<button type="submit">{escape(text["submit"])}</button></form>'
    )
    switch = "en" if lang == "zh" else "zh"
    return _page(status, lang, "title", "".join(parts), f"/login?lang={switch}")


async def login_page(request: web.Request) -> web.Response:
    lang = _lang(request.query.get("lang"))
    problem = _TEXT[lang]["expired"] if via(request) is Via.STALE_SESSION else ""
    response = _login_response(
        request, lang, 200, problem=problem, nxt=_local_next(request.query.get("next", "/"))
    )
    if via(request) is Via.STALE_SESSION:
        forget_session(response, request)
    return response


def _setup_response(
    request: web.Request, lang: str, status: int, problem: str = "", body: SetupBody | None = None
) -> web.Response:
    text = _TEXT[lang]
    switch = f"/setup?lang={'en' if lang == 'zh' else 'zh'}"
    if _accounts(request).has_accounts():
        content = (
            f"<p>{escape(text['setup_done'])}</p>"
            f'<p><a href="/login?lang={lang}">{escape(text["submit"])}</a></p>'
        )
        return _page(status, lang, "setup_title", content, switch)
    parts = [f"<p>{escape(text['setup_intro'])}</p>"]
    if problem:
        parts.append(f'<p class="problem">{escape(problem)}</p>')
    parts.append(
        '<form method="post" action="/setup">'
        f'<input type="hidden" name="lang" value="{lang}">'
        + _input(text["name"], "name", "text", body.name if body else "admin", "username")
        + _input(
            text["display_name"],
            "display_name",
            "text",
            body.display_name if body else "",
            "name",
        )
        + _input(text["password"], "password", "password", "", "new-password")
        + f'<button type="submit">{escape(text["create"])}</button></form>'
    )
    return _page(status, lang, "setup_title", "".join(parts), switch)


async def setup_page(request: web.Request) -> web.Response:
    lang = _lang(request.query.get("lang"))
    status = 409 if _accounts(request).has_accounts() else 200
    return _setup_response(request, lang, status)


async def setup(request: web.Request) -> web.Response:
    """The first admin, once: refused as soon as any account exists."""
    accounts = _accounts(request)
    form = _is_form(request)
    body = await _body(request, SetupBody)
    lang = _lang(body.lang)
    if accounts.has_accounts():
        note(request, "first-run setup refused: accounts exist", body.name)
        if form:
            return _setup_response(request, lang, 409)
        raise refused(
            web.HTTPConflict,
            "this gateway is already set up; fix: sign in at /login, and ask an admin for an "
            "account",
            code="already_set_up",
        )
    try:
        check_new_password(body.password, account=body.name, display_name=body.display_name)
        password_hash = await accounts.passwords.hash_async(body.password)
        account = accounts.add(
            body.name, password_hash, {Role.ADMIN}, body.display_name, first=True
        )
    except AccountError as error:
        note(request, f"first-run setup refused: {error}", body.name)
        if form:
            return _setup_response(request, lang, 422, str(error), body)
        raise _refused(error) from None
    note(request, f"first-run setup: created admin {account.name}", account.name)
    session = accounts.open_session(account.name)
    response = (
        _redirect("/")
        if form
        else json_response(_whoami(account.user(), session.csrf, "session"), status=201)
    )
    remember_session(response, request, session)
    return response


async def sign_in(request: web.Request) -> web.Response:
    accounts = _accounts(request)
    form = _is_form(request)
    body = await _body(request, SignInBody)
    lang = _lang(body.lang)
    nxt = _local_next(body.next)
    try:
        session = await accounts.sign_in(body.name, body.password, address=request.remote)
    except SignInThrottledError as error:
        note(request, f"sign-in throttled: {body.name} for {error.seconds} s", body.name)
        if form:
            response = _login_response(
                request,
                lang,
                429,
                problem=_TEXT[lang]["throttled"].format(seconds=error.seconds),
                name=body.name,
                nxt=nxt,
            )
        else:
            response = web.Response(
                status=429,
                text=dumps(
                    refusal_body(
                        429,
                        [("name", str(error))],
                        code=error.code,
                        params={"retry_after": error.seconds, "until": _iso(error.until)},
                    )
                ),
                content_type="application/json",
            )
        response.headers["Retry-After"] = str(error.seconds)
        return response
    except SignInRefusedError:
        note(request, f"sign-in failed: {body.name}", body.name)
        if form:
            return _login_response(
                request, lang, 401, problem=_TEXT[lang]["wrong"], name=body.name, nxt=nxt
            )
        raise refused(
            web.HTTPUnauthorized,
            "wrong account name or password; fix: check both, or ask an admin to reset it",
            field="password",
            code="sign_in_refused",
        ) from None
    note(request, f"signed in: {session.account.name}", session.account.name)
    answer = (
        _redirect(nxt)
        if form
        else json_response(_whoami(session.account.user(), session.csrf, "session"))
    )
    remember_session(answer, request, session)
    return answer


async def sign_out(request: web.Request) -> web.Response:
    user = current_user(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token and via(request) is Via.SESSION:
        _accounts(request).end_session(token)
    note(request, f"signed out: {user.name}" if user else "sign-out without a session")
    response = json_response({"ok": True})
    forget_session(response, request)
    return response


def _whoami(user: User, csrf: str | None, how: str) -> dict[str, object]:
    return {
        "name": user.name,
        "display_name": user.display_name,
        "roles": sorted(user.roles),
        "person": user.person,
        "may": sorted(action.value for action in Action if user.may(action)),
        "csrf_token": csrf,
        "via": how,
    }


async def who_am_i(request: web.Request) -> web.Response:
    user = require(request, Action.VIEW)
    return json_response(_whoami(user, session_csrf(request), via(request).name.lower()))


# accounts admin


async def list_accounts(request: web.Request) -> web.Response:
    require(request, Action.ACCOUNTS)
    return json_response(
        {"accounts": [account.to_json() for account in _accounts(request).accounts()]}
    )


async def create_account(request: web.Request) -> web.Response:
    require(request, Action.ACCOUNTS)
    accounts = _accounts(request)
    body = await _body(request, NewAccountBody)
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
        raise _refused(error) from None
    note(request, f"created account {account.name} ({', '.join(sorted(account.roles))})")
    return json_response(account.to_json(), status=201)


async def change_account(request: web.Request) -> web.Response:
    require(request, Action.ACCOUNTS)
    name = request.match_info["name"]
    body = await _body(request, AccountChangeBody)
    given = body.model_fields_set
    changes: dict[str, Any] = {key: getattr(body, key) for key in given}
    try:
        account = _accounts(request).update(
            name, **changes, by=require(request, Action.ACCOUNTS).name
        )
    except AccountError as error:
        raise _refused(error) from None
    what = ", ".join(f"{key}={_describe(changes[key])}" for key in sorted(changes))
    note(request, f"changed account {name}: {what or 'nothing'}")
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
        changes = _accounts(request).changes()
    except AccountError as error:
        raise _refused(error) from None
    return json_response({"changes": [change.to_json() for change in changes]})


async def account_change_forms(request: web.Request) -> web.Response:
    """附表5 系统用户变更申请表 of each account change, ready to print and sign."""
    require(request, Action.ACCOUNTS)
    try:
        changes = _accounts(request).changes()
    except AccountError as error:
        raise _refused(error) from None
    in_force = request.app.get(SETTINGS)
    unit = in_force.current.unit if in_force is not None else None
    page = render_user_changes(changes, unit.name if unit else "", unit.code if unit else "")
    return web.Response(text=page, content_type="text/html", charset="utf-8")


async def reset_password(request: web.Request) -> web.Response:
    require(request, Action.ACCOUNTS)
    accounts = _accounts(request)
    name = request.match_info["name"]
    body = await _body(request, PasswordBody)
    try:
        account = accounts.account(name)
        check_new_password(body.password, account=name, display_name=account.display_name)
        accounts.set_password(name, await accounts.passwords.hash_async(body.password))
    except AccountError as error:
        raise _refused(error) from None
    note(request, f"reset the password of {name}; its sessions ended")
    return json_response({"ok": True})


async def list_tokens(request: web.Request) -> web.Response:
    require(request, Action.ACCOUNTS)
    account = request.query.get("account") or None
    return json_response(
        {"tokens": [token.to_json() for token in _accounts(request).tokens(account)]}
    )


async def create_token(request: web.Request) -> web.Response:
    require(request, Action.ACCOUNTS)
    body = await _body(request, NewTokenBody)
    try:
        secret, token = _accounts(request).create_token(
            body.account, body.name, scope=body.scope, days=body.days
        )
    except AccountError as error:
        raise _refused(error) from None
    note(request, f"created API token {token.id} ({token.name}) for {token.account}")
    return json_response(token.to_json() | {"token": secret}, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    require(request, Action.ACCOUNTS)
    text = request.match_info["id"]
    if not _is_id(text):
        raise refused(web.HTTPNotFound, f"API token id {text!r}: ids are whole numbers", field="id")
    try:
        token = _accounts(request).revoke_token(int(text))
    except AccountError as error:
        raise _refused(error) from None
    note(request, f"revoked API token {token.id} ({token.name}) of {token.account}")
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
    entries = _audit(request).entries(
        int(limit_text), None if before_text is None else int(before_text)
    )
    return json_response({"entries": [entry.to_json(shown) for entry in entries]})


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _is_id(text: str) -> bool:
    """A row id: ASCII digits that fit SQLite's INTEGER."""
    return text.isascii() and text.isdigit() and len(text) < 19
