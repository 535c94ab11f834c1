"""Signing in and out, and the first-run setup, over HTTP (accounts, API tokens and the audit
log are `gateway.web.routes.accounts`).

`GET /login` and `GET /setup` are small self-contained pages (Chinese, `?lang=en` for
English) that post plain forms, so they work on any phone without scripts. The same routes
take JSON for scripts and the web UI. Answers to a wrong name or password never say which of
the two was wrong.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import ConfigDict, Field

from gateway.auth.accounts import (
    AccountError,
    SignInRefusedError,
    SignInThrottledError,
)
from gateway.auth.password_rules import check_new_password
from gateway.auth.policy import Action, Role, User
from gateway.web import sizes
from gateway.web.access import HTML, JSON, OPEN, add_route, current_user, require
from gateway.web.audit_note import note
from gateway.web.auth_middleware import (
    CSRF_FIELD,
    SESSION_COOKIE,
    Via,
    forget_session,
    remember_session,
    session_csrf,
    via,
)
from gateway.web.json_http import dumps, json_response, refusal_body, refused
from gateway.web.routes.account_requests import (
    FormBody,
    account_refusal,
    accounts_of,
    is_form,
    read_body,
)


class SignInBody(FormBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "wang.fang", "password": "..."}]},
    )
    name: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=1, max_length=1000)]
    next: Annotated[str, Field(max_length=sizes.PATH)] = "/"
    lang: Annotated[str, Field(max_length=sizes.CODE)] = "zh"


class SetupBody(FormBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "admin", "password": "...", "display_name": ""}]},
    )
    name: Annotated[str, Field(min_length=1, max_length=sizes.CODE)]
    display_name: Annotated[str, Field(max_length=sizes.LABEL)] = ""
    password: Annotated[str, Field(min_length=1, max_length=sizes.PASSWORD)]
    lang: Annotated[str, Field(max_length=sizes.CODE)] = "zh"


def add_sign_in_routes(app: web.Application) -> None:
    """The routes of this module; `install_auth` must have run on `app`."""
    add_route(app, "GET", "/login", login_page, OPEN, produces=HTML, query=("lang", "next"))
    add_route(app, "GET", "/setup", setup_page, OPEN, produces=HTML, query=("lang",))
    add_route(app, "POST", "/setup", setup, OPEN, body=SetupBody, produces=(JSON, *HTML))
    add_route(app, "POST", "/api/session", sign_in, OPEN, body=SignInBody)
    add_route(app, "DELETE", "/api/session", sign_out, OPEN)
    add_route(app, "GET", "/api/session", who_am_i, Action.VIEW)


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
    if accounts_of(request).has_accounts():
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
    status = 409 if accounts_of(request).has_accounts() else 200
    return _setup_response(request, lang, status)


async def setup(request: web.Request) -> web.Response:
    """The first admin, once: refused as soon as any account exists."""
    accounts = accounts_of(request)
    form = is_form(request)
    body = await read_body(request, SetupBody)
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
        raise account_refusal(error) from None
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
    accounts = accounts_of(request)
    form = is_form(request)
    body = await read_body(request, SignInBody)
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
        accounts_of(request).end_session(token)
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


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
