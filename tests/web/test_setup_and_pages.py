"""First-run setup (once only), the sign-in page in both languages, and HTML in names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.auth.policy import Role
from gateway.core.clock import FakeClock
from tests.web.conftest import T0, Site, full_app, sign_in
from tests.web_support import TEST_PASSWORD, add_account, csrf

pytestmark = pytest.mark.asyncio
Client = TestClient[web.Request, web.Application]
SCRIPT = '<script>alert("x")</script>'


@pytest_asyncio.fixture
async def fresh(tmp_path: Path) -> AsyncIterator[tuple[Site, Client]]:
    """The full app with no account at all, as after installing."""
    with full_app(tmp_path / "data", FakeClock(T0)) as site:
        async with TestClient(TestServer(site.app)) as client:
            yield site, client


async def test_first_run_setup_creates_the_admin_once(fresh: tuple[Site, Client]) -> None:
    site, client = fresh
    assert (await client.get("/api/fridges")).status == 401
    page = await client.get("/setup")
    assert page.status == 200
    text = await page.text()
    assert "首次设置" in text
    assert 'action="/setup"' in text
    short = {"name": "admin", "display_name": "管理员", "password": "short"}
    answer = await client.post("/setup", data=short)
    assert answer.status == 422
    assert "8 to 256 characters" in await answer.text()
    assert not site.accounts.has_accounts()

    good = short | {"password": TEST_PASSWORD}
    answer = await client.post("/setup", data=good, allow_redirects=False)
    assert answer.status == 303
    assert answer.headers["Location"] == "/"
    assert "coldchain_session" in answer.cookies
    account = site.accounts.account("admin")
    assert account.roles == {Role.ADMIN}
    assert account.display_name == "管理员"
    whoami = await (await client.get("/api/session")).json()
    assert whoami["name"] == "admin"

    again = await client.get("/setup?lang=en")
    assert again.status == 409
    assert "already set up" in await again.text()
    client.session.cookie_jar.clear()
    second = await client.post("/setup", json={"name": "mallory", "password": TEST_PASSWORD})
    assert second.status == 409
    assert "already set up" in (await second.json())["error"]
    assert site.accounts.get("mallory") is None
    entries = site.audit.entries()
    assert [(e.user, e.status) for e in entries[:2]] == [("mallory", 409), ("admin", 303)]


async def test_setup_by_json(fresh: tuple[Site, Client]) -> None:
    site, client = fresh
    body = {"name": "root", "password": TEST_PASSWORD}
    answer = await client.post("/setup", json=body)
    assert answer.status == 201
    token = (await answer.json())["csrf_token"]
    made = await client.post(
        "/api/accounts",
        json={"name": "wang.fang", "password": "another password", "roles": ["manager"]},
        headers=csrf(token),
    )
    assert made.status == 201
    assert site.accounts.account("wang.fang").roles == {Role.MANAGER}


async def test_html_in_names_is_escaped(fresh: tuple[Site, Client]) -> None:
    site, client = fresh
    bad = {"name": "admin", "display_name": SCRIPT, "password": "short"}
    page = await (await client.post("/setup", data=bad)).text()
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page

    add_account(site.accounts, "admin", Role.ADMIN, display_name=SCRIPT)
    await sign_in(client, "admin")
    login = await client.get("/login")
    text = await login.text()
    assert SCRIPT not in text
    assert "&lt;script&gt;" in text
    assert login.headers["Content-Security-Policy"].startswith("default-src 'none'")
    wrong = {"name": f'"><img src=x onerror=alert(1)>{SCRIPT}', "password": "whatever-1"}
    client.session.cookie_jar.clear()
    page = await (await client.post("/api/session", data=wrong)).text()
    assert "<img" not in page
    assert SCRIPT not in page
    listing = await client.get("/api/accounts")
    assert listing.status == 401


async def test_login_page_languages_and_next(site: Site, client: Client) -> None:
    page = await client.get("/login?next=/alarms")
    assert page.status == 200
    text = await page.text()
    assert '<html lang="zh-CN">' in text
    assert "登录" in text
    assert 'name="next" value="/alarms"' in text
    assert 'href="/login?lang=en"' in text
    assert "<script" not in text
    assert "http" not in text.replace("http-equiv", ""), "loads nothing from elsewhere"
    english = await (await client.get("/login?lang=en&next=https://evil.example/")).text()
    assert "Sign in" in english
    assert 'name="next" value="/"' in english
    assert 'name="viewport"' in english

    await sign_in(client, "manager")
    await site.clock.advance(3 * 3600)
    stale = await client.get("/login")
    assert "登录已过期" in await stale.text()
    assert stale.cookies["coldchain_session"].value == ""


async def test_account_changes_are_kept_and_print_as_form_5(fresh: tuple[Site, Client]) -> None:
    _, client = fresh
    answer = await client.post("/setup", json={"name": "root", "password": TEST_PASSWORD})
    headers = csrf((await answer.json())["csrf_token"])
    new = {"name": "wang.fang", "password": "another password", "roles": ["vaccinator"],
           "display_name": "王芳"}  # fmt: skip
    assert (await client.post("/api/accounts", json=new, headers=headers)).status == 201
    change = {"display_name": "王芳芳", "roles": ["manager"]}
    changed = await client.patch("/api/accounts/wang.fang", json=change, headers=headers)
    assert changed.status == 200
    same = await client.patch("/api/accounts/wang.fang", json=change, headers=headers)
    assert same.status == 200  # nothing changed: no form
    closed = await client.patch("/api/accounts/wang.fang", json={"disabled": True}, headers=headers)
    assert closed.status == 200
    listing = (await (await client.get("/api/accounts/changes")).json())["changes"]
    mine = [(c["by"], c["kind"], c["before"], c["after"]) for c in listing
            if c["account"] == "wang.fang"]  # fmt: skip
    assert mine == [
        ("root", "关闭", "王芳芳，角色：manager", "王芳芳，角色：manager，已停用"),
        ("root", "修改", "王芳，角色：vaccinator", "王芳芳，角色：manager"),
        ("root", "新增", "", "王芳，角色：vaccinator"),
    ]
    page = await (await client.get("/api/accounts/changes/form")).text()
    assert page.count("系统用户变更申请表") >= 3
    assert "☑修改" in page
    assert "用户名称：wang.fang 王芳，角色：vaccinator" in page
