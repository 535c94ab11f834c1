"""403, 404 and 500 on a page path: a styled page in Chinese and English, no script; the API
keeps answering JSON."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.auth.policy import Role
from gateway.web.error_pages import error_page
from tests.web.conftest import Site, sign_in

Client = TestClient[web.Request, web.Application]


@pytest.mark.asyncio
async def test_a_page_the_role_may_not_open_is_a_styled_403_in_both_languages(
    client: Client,
) -> None:
    await sign_in(client, Role.VACCINATOR.value)

    refused = await client.get("/technician")
    text = await refused.text()

    assert refused.status == 403
    assert refused.content_type == "text/html"
    assert "无权打开此页" in text
    assert "You may not open this page" in text
    assert "probe_bind" in text
    assert '<link rel="stylesheet" href="/static/app.css">' in text
    assert "<script" not in text
    assert "script-src" not in refused.headers["Content-Security-Policy"]


@pytest.mark.asyncio
async def test_an_unknown_page_is_a_404_page_and_an_unknown_api_path_json(
    site: Site, client: Client
) -> None:
    await sign_in(client, Role.MANAGER.value)

    page = await client.get("/no-such-page")
    fridge = await client.get("/fridges/F9/冷藏")
    api = await client.get("/api/no-such-thing")

    assert page.status == fridge.status == 404
    assert "找不到此页" in await page.text()
    assert "找不到此页" in await fridge.text()
    assert api.status == 404
    assert (await api.json())["code"] == "not_found"


def test_any_other_status_reads_as_the_gateway_failing() -> None:
    page = error_page(502)

    assert page.status == 502
    assert page.text is not None
    assert "网关出错了" in page.text
