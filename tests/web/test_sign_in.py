"""Signing in and out over HTTP: wrong passwords, throttling on the fake clock, expired sessions,
CSRF, Bearer tokens, cookie attributes and the audit trail of it all."""

from __future__ import annotations

from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from gateway.auth.accounts import LoginPolicy
from gateway.storage.registry import AUDIT
from tests.web.conftest import Site, sign_in
from tests.web_support import TEST_PASSWORD, bearer, csrf, stored_bytes

pytestmark = pytest.mark.asyncio
Client = TestClient[web.Request, web.Application]


async def error(response: ClientResponse, status: int) -> str:
    assert response.status == status, await response.text()
    message = (await response.json())["error"]
    assert isinstance(message, str)
    return message


async def test_wrong_password_and_unknown_name_get_the_same_answer(
    site: Site, client: Client
) -> None:
    wrong = await client.post("/api/session", json={"name": "admin", "password": "not-it-at-all"})
    unknown = await client.post("/api/session", json={"name": "nobody", "password": "whatever!"})
    assert await error(wrong, 401) == await error(unknown, 401)
    assert "wrong account name or password" in await error(
        await client.post("/api/session", json={"name": "admin", "password": "nope-nope"}), 401
    )
    assert "coldchain_session" not in wrong.cookies
    assert (await client.get("/api/session")).status == 401
    await site.clock.advance(1)  # three failures from this address: the next waits 1 s
    await sign_in(client, "admin")
    assert (await client.get("/api/session")).status == 200


async def test_sign_in_form_redirects_and_wrong_password_page(site: Site, client: Client) -> None:
    form = {"name": "manager", "password": "wrong-password", "lang": "en", "next": "/fridges"}
    page = await client.post("/api/session", data=form)
    assert page.status == 401
    text = await page.text()
    assert "Wrong account name or password." in text
    assert 'value="manager"' in text
    good = form | {"password": TEST_PASSWORD}
    answer = await client.post("/api/session", data=good, allow_redirects=False)
    assert answer.status == 303
    assert answer.headers["Location"] == "/fridges"
    client.session.cookie_jar.clear()
    elsewhere = good | {"next": "//evil.example/x"}
    answer = await client.post("/api/session", data=elsewhere, allow_redirects=False)
    assert answer.headers["Location"] == "/", "never sends the browser to another site"


async def test_failures_slow_down_and_never_lock(site: Site, client: Client) -> None:
    policy = LoginPolicy()
    wrong = {"name": "manager", "password": "wrong-password"}
    for _ in range(policy.free_failures):
        await error(await client.post("/api/session", json=wrong), 401)
    slowed = await client.post("/api/session", json=wrong)
    assert "try again in 1 s" in await error(slowed, 429)
    assert (await slowed.json())["code"] == "sign_in_throttled"
    assert slowed.headers["Retry-After"] == "1"
    right = {"name": "manager", "password": TEST_PASSWORD}
    await error(await client.post("/api/session", json=right), 429)  # not even checked
    page = await client.post("/api/session", data=right | {"lang": "en"})
    assert page.status == 429
    assert "try again in 1 s" in await page.text()
    admin = {"name": "admin", "password": TEST_PASSWORD}
    await error(await client.post("/api/session", json=admin), 429)  # the same address

    await site.clock.advance(1)
    await error(await client.post("/api/session", json=wrong), 401)
    again = await client.post("/api/session", json=wrong)
    assert again.headers["Retry-After"] == "2", "the delay doubles with each failure"
    await site.clock.advance(policy.max_delay.total_seconds())
    assert (await client.post("/api/session", json=right)).status == 200, "never locked"
    client.session.cookie_jar.clear()


async def test_the_console_lets_the_admin_in_at_once(site: Site, client: Client) -> None:
    wrong = {"name": "admin", "password": "wrong-password"}
    for _ in range(LoginPolicy().free_failures):
        await error(await client.post("/api/session", json=wrong), 401)
    admin = {"name": "admin", "password": TEST_PASSWORD}
    await error(await client.post("/api/session", json=admin), 429)
    assert site.accounts.unthrottle() == 3  # coldchain accounts unthrottle
    assert (await client.post("/api/session", json=admin)).status == 200


async def test_failures_spread_beyond_the_window_do_not_lock(site: Site, client: Client) -> None:
    wrong = {"name": "head", "password": "wrong-password"}
    for _ in range(8):
        await error(await client.post("/api/session", json=wrong), 401)
        await site.clock.advance(4 * 60)  # 4 failures per 15 min at most
    right = {"name": "head", "password": TEST_PASSWORD}
    assert (await client.post("/api/session", json=right)).status == 200


async def test_idle_and_absolute_session_expiry(site: Site, client: Client) -> None:
    policy = LoginPolicy()
    await sign_in(client, "county")
    await site.clock.advance(policy.session_idle.total_seconds() - 60)
    assert (await client.get("/api/fridges")).status == 200
    await site.clock.advance(policy.session_idle.total_seconds())
    expired = await client.get("/api/fridges")
    assert await error(expired, 401) == "session expired: sign in again at /login"
    assert expired.cookies["coldchain_session"].value == "", "the stale cookie is cleared"

    await sign_in(client, "county")
    hours = int(policy.session_max.total_seconds() // 3600)
    for _ in range(hours - 1):
        await site.clock.advance(3600)
        assert (await client.get("/api/session")).status == 200
    await site.clock.advance(3600)
    assert "session expired" in await error(await client.get("/api/session"), 401)


async def test_csrf_token_required_for_cookie_sessions(site: Site, client: Client) -> None:
    token = await sign_in(client, "admin")
    new = {"name": "zhang", "password": "a good password", "roles": ["vaccinator"]}
    message = await error(await client.post("/api/accounts", json=new), 403)
    assert message.startswith("CSRF token missing")
    assert "X-CSRF-Token" in message
    assert "coldchain_csrf" in message
    message = await error(
        await client.post("/api/accounts", json=new, headers=csrf("x" + token)), 403
    )
    assert message.startswith("CSRF token wrong")
    assert site.accounts.get("zhang") is None, "refused requests change nothing"
    created = await client.post("/api/accounts", json=new, headers=csrf(token))
    assert created.status == 201
    whoami = await (await client.get("/api/session")).json()
    assert whoami["csrf_token"] == token
    assert whoami["roles"] == ["admin"]
    assert "accounts" in whoami["may"]
    # a form carries it as a field
    form = {"name": "admin", "password": TEST_PASSWORD}
    assert (await client.post("/api/session", data=form)).status == 403
    answer = await client.post(
        "/api/session", data=form | {"csrf_token": token}, allow_redirects=False
    )
    assert answer.status == 303


async def test_sign_out_ends_the_session(site: Site, client: Client) -> None:
    token = await sign_in(client, "technician")
    await error(await client.delete("/api/session"), 403)  # CSRF applies to signing out too
    response = await client.delete("/api/session", headers=csrf(token))
    assert response.status == 200
    assert response.cookies["coldchain_session"].value == ""
    assert (await client.get("/api/fridges")).status == 401


async def test_bearer_tokens_need_no_csrf_and_can_be_revoked(site: Site, client: Client) -> None:
    token = await sign_in(client, "admin")
    made = await client.post(
        "/api/tokens", json={"account": "admin", "name": "county-sync"}, headers=csrf(token)
    )
    assert made.status == 201
    body = await made.json()
    secret = body["token"]
    assert secret.startswith("cc_")
    listing = await (await client.get("/api/tokens")).json()
    assert [t["name"] for t in listing["tokens"]] == ["county-sync"]
    assert "token" not in listing["tokens"][0], "the secret is shown once only"

    async with TestClient(TestServer(site.app)) as machine:
        new = {"name": "robot", "password": "a good password", "roles": ["county"]}
        created = await machine.post("/api/accounts", json=new, headers=bearer(secret))
        assert created.status == 201, await created.text()
        assert (await machine.get("/api/session", headers=bearer(secret))).status == 200
        revoked = await client.delete(f"/api/tokens/{body['id']}", headers=csrf(token))
        assert revoked.status == 200
        assert (await revoked.json())["revoked_at"] is not None
        message = await error(await machine.get("/api/fridges", headers=bearer(secret)), 401)
        assert "unknown, revoked or expired" in message
        message = await error(await machine.get("/api/fridges", headers=bearer("cc_made-up")), 401)
        assert "unknown, revoked or expired" in message


async def test_scoped_tokens_in_the_api(site: Site, client: Client) -> None:
    token = await sign_in(client, "admin")
    scoped = {"account": "manager", "name": "stock-desk", "scope": ["view", "stock_receive"],
              "days": 7}  # fmt: skip
    made = await client.post("/api/tokens", json=scoped, headers=csrf(token))
    assert made.status == 201, await made.text()
    secret = (await made.json())["token"]
    listing = (await (await client.get("/api/tokens")).json())["tokens"]
    assert listing[0]["scope"] == ["stock_receive", "view"]
    assert listing[0]["expires_at"] == "2026-03-09T01:00:00+00:00"
    weak = {"name": "zhang", "password": "12345678", "roles": ["vaccinator"]}
    refused = await client.post("/api/accounts", json=weak, headers=csrf(token))
    assert "most common passwords" in await error(refused, 422)
    assert (await refused.json())["code"] == "weak_password"
    beyond = await client.post(
        "/api/tokens", json=scoped | {"scope": ["accounts"]}, headers=csrf(token)
    )
    assert "manager may not accounts" in await error(beyond, 422)
    async with TestClient(TestServer(site.app)) as machine:
        assert (await machine.get("/api/fridges", headers=bearer(secret))).status == 200
        refused = await machine.post("/api/manual-readings", json={}, headers=bearer(secret))
        assert "its scope is stock_receive, view" in await error(refused, 403)
        await site.clock.advance(7 * 86400)
        expired = await machine.get("/api/fridges", headers=bearer(secret))
        assert "unknown, revoked or expired" in await error(expired, 401)


async def test_disabling_an_account_ends_its_sessions_and_tokens(
    site: Site, client: Client
) -> None:
    secret, _ = site.accounts.create_token("vaccinator", "phone")
    async with TestClient(TestServer(site.app)) as other:
        await sign_in(other, "vaccinator")
        token = await sign_in(client, "admin")
        answer = await client.patch(
            "/api/accounts/vaccinator", json={"disabled": True}, headers=csrf(token)
        )
        assert answer.status == 200
        assert (await other.get("/api/fridges")).status == 401
        assert (await other.get("/api/fridges", headers=bearer(secret))).status == 401
        refused = await other.post(
            "/api/session", json={"name": "vaccinator", "password": TEST_PASSWORD}
        )
        assert refused.status == 401
    message = await error(
        await client.patch("/api/accounts/admin", json={"roles": ["county"]}, headers=csrf(token)),
        409,
    )
    assert "last enabled admin" in message


async def test_cookie_attributes(site: Site, client: Client) -> None:
    response = await client.post("/api/session", json={"name": "admin", "password": TEST_PASSWORD})
    cookies = SimpleCookie()
    for header in response.headers.getall("Set-Cookie"):
        cookies.load(header)
    session, token = cookies["coldchain_session"], cookies["coldchain_csrf"]
    for cookie in (session, token):
        assert cookie["samesite"] == "Strict"
        assert cookie["path"] == "/"
        assert not cookie["secure"], "plain http in tests: 'auto' leaves Secure off"
        assert int(cookie["max-age"]) == 12 * 3600
    assert session["httponly"]
    assert not token["httponly"], "the page must be able to read the CSRF token"
    assert token.value == (await response.json())["csrf_token"]


async def test_secure_cookies_when_configured(tmp_path_factory: pytest.TempPathFactory) -> None:
    from gateway.auth.policy import Role
    from gateway.core.clock import FakeClock
    from gateway.web.auth_middleware import install_auth
    from gateway.web.routes.sign_in import add_sign_in_routes
    from tests.web_support import add_account, close_auth, open_auth

    auth = open_auth(tmp_path_factory.mktemp("secure"), FakeClock(), secure="always")
    try:
        add_account(auth.accounts, "admin", Role.ADMIN)
        app = web.Application()
        install_auth(app, auth)
        add_sign_in_routes(app)
        async with TestClient(TestServer(app)) as client:
            response = await client.post(
                "/api/session", json={"name": "admin", "password": TEST_PASSWORD}
            )
            cookies = SimpleCookie()
            for header in response.headers.getall("Set-Cookie"):
                cookies.load(header)
            assert cookies["coldchain_session"]["secure"]
            assert cookies["coldchain_csrf"]["secure"]
    finally:
        close_auth(auth)


async def test_audit_entries_and_no_secrets(site: Site, client: Client) -> None:
    await client.post("/api/session", json={"name": "head", "password": "wrong-password-1"})
    for _ in range(5):
        await client.post("/api/session", json={"name": "unit_head", "password": "bad-pass-2"})
    site.accounts.unthrottle()
    token = await sign_in(client, "admin")
    made = await client.post(
        "/api/tokens", json={"account": "county", "name": "report"}, headers=csrf(token)
    )
    secret = (await made.json())["token"]
    await client.post(
        "/api/accounts",
        json={"name": "zhang", "password": "plum orchard lantern", "roles": ["vaccinator"]},
        headers=csrf(token),
    )
    await client.post(
        "/api/accounts/zhang/password",
        json={"password": "quiet harbour violin"},
        headers=csrf(token),
    )
    await client.post("/api/accounts", json={"name": "x"})  # no CSRF token: refused, audited

    listing = await client.get("/api/audit?limit=50")
    assert listing.status == 200
    entries = (await listing.json())["entries"]
    summaries = [(e["user"], e["status"], e["summary"]) for e in reversed(entries)]
    failed = [("unit_head", 401, "sign-in failed: unit_head")]
    throttled = [("unit_head", 429, "sign-in throttled: unit_head for 1 s")]
    assert summaries[:6] == [("head", 401, "sign-in failed: head"), *failed * 2, *throttled * 3]
    assert ("admin", 200, "signed in: admin") in summaries
    assert ("admin", 201, "created API token 1 (report) for county") in summaries
    assert ("admin", 201, "created account zhang: vaccinator") in summaries
    assert ("admin", 200, "reset the password of zhang; its sessions ended") in summaries
    assert summaries[-1] == ("admin", 403, "POST /api/accounts")
    assert all(e["method"] == "POST" for e in entries)
    assert {e["path"] for e in entries} >= {"/api/session", "/api/tokens", "/api/accounts"}

    site.audit.close()
    raw = stored_bytes(site.data_dir, AUDIT.file)
    for secret_text in (
        "wrong-password-1", "bad-pass-2", TEST_PASSWORD, "plum orchard lantern",
        "quiet harbour violin", secret, token,
    ):  # fmt: skip
        assert secret_text.encode() not in raw


async def test_audit_view_permission(site: Site, client: Client) -> None:
    await sign_in(client, "vaccinator")
    assert "may not audit_view" in await error(await client.get("/api/audit"), 403)
    await sign_in(client, "county")
    assert (await client.get("/api/audit")).status == 200
    assert (await client.get("/api/audit?limit=0")).status == 400


async def test_idle_window_counts_from_last_use(site: Site, client: Client) -> None:
    await sign_in(client, "manager")
    for _ in range(5):  # active use keeps an idle session alive beyond its idle limit
        await site.clock.advance(timedelta(minutes=90).total_seconds())
        assert (await client.get("/api/session")).status == 200
