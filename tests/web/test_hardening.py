"""Headers and files: every response of the full app (pages, exports, JSON, refusals, static
files, aiohttp's own 404) carries a CSP that forbids framing, `nosniff` and a referrer policy,
and all but static files `no-store`; the sign-in `next` accepts same-origin paths only; the
stores are created 0640 in a 0750 folder whatever the umask."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.auth.policy import Role
from gateway.storage.readings import ReadingStore
from tests.web.conftest import Site
from tests.web_support import TEST_PASSWORD, bearer

Client = TestClient[web.Request, web.Application]


def read_paths(app: web.Application) -> list[str]:
    paths = {
        re.sub(r"\{[^}]+\}", "0", route.resource.canonical)
        for route in app.router.routes()
        if route.method == "GET" and route.resource is not None
    }
    return sorted(paths | {"/static/app.css", "/no/such/page", "/api/no-such-route"})


@pytest.mark.asyncio
async def test_every_response_carries_the_security_headers(site: Site, client: Client) -> None:
    tokens = {role: site.accounts.create_token(role.value, "headers")[0] for role in Role}
    checked = 0
    for path in read_paths(site.app):
        for headers in ({}, bearer(tokens[Role.ADMIN]), bearer(tokens[Role.MANAGER])):
            response = await client.get(path, headers=headers, allow_redirects=False)
            found = response.headers
            where = f"GET {path} -> {response.status} {response.content_type}"
            assert found["X-Content-Type-Options"] == "nosniff", where
            assert "frame-ancestors 'none'" in found["Content-Security-Policy"], where
            assert found["Referrer-Policy"] in {"same-origin", "no-referrer"}, where
            if not path.startswith("/static/"):
                assert found["Cache-Control"] == "no-store", where
            if (
                response.content_type == "text/html"
                and "script-src 'self'" not in found["Content-Security-Policy"]
            ):
                assert "default-src 'none'" in found["Content-Security-Policy"], where
            checked += 1
    assert checked >= 150


@pytest.mark.asyncio
async def test_next_accepts_same_origin_paths_only(site: Site, client: Client) -> None:
    form = {"name": "manager", "password": TEST_PASSWORD}
    for given, expected in [
        ("/fridges?since=1", "/fridges?since=1"), ("//evil.example/x", "/"),
        ("/\t/evil.example", "/"), ("/\n/evil.example", "/"), ("/\\evil.example", "/"),
        ("https://evil.example/", "/"), ("javascript:alert(1)", "/"), ("/ /evil", "/"),
    ]:  # fmt: skip
        client.session.cookie_jar.clear()
        answer = await client.post(
            "/api/session", data=form | {"next": given}, allow_redirects=False
        )
        assert answer.status == 303
        assert answer.headers["Location"] == expected, repr(given)


@pytest.fixture
def open_umask() -> Iterator[None]:
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


def test_stores_are_private_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    loose = tmp_path / "old"
    loose.mkdir(mode=0o777)
    (loose / "readings.sqlite3").touch(mode=0o666)
    for folder in (tmp_path / "new" / "data", loose):
        with ReadingStore(folder / "readings.sqlite3") as store:
            store.integrity_check()
            assert stat.S_IMODE(folder.stat().st_mode) == 0o750, folder
            files = list(folder.iterdir())
            assert len(files) == 3, "the store, its -wal and -shm"
            for file in files:
                assert stat.S_IMODE(file.stat().st_mode) == 0o640, file
