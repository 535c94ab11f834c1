"""The camera's decoder, zxing-wasm, as committed: the pinned files byte for byte, served from
the gateway with the types a browser needs, under a policy that lets WebAssembly compile and
nothing else be evaluated."""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.auth.policy import Role
from gateway.web.ui import STATIC
from tests.access_support import as_roles
from tests.ui.zxing import FILES, VENDOR, mismatches

Client = TestClient[web.Request, web.Application]


def test_the_committed_decoder_is_the_pinned_npm_package() -> None:
    assert mismatches(VENDOR) == [], "fix: make zxing"
    assert sorted(str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*") if p.is_file()) == sorted(
        [*FILES, "NOTICE"]
    )
    assert VENDOR.name in (VENDOR / "NOTICE").read_text(encoding="utf-8").replace(" ", "-")


def test_the_camera_script_loads_the_vendored_folder() -> None:
    script = (STATIC / "js" / "camera.js").read_text(encoding="utf-8")
    [folder] = re.findall(r'CAMERA_DECODER = "([^"]+)"', script)
    assert folder == f"/static/vendor/{VENDOR.name}/dist"
    assert "://" not in script, "nothing is fetched from outside the gateway"


@pytest.mark.asyncio
async def test_the_decoder_is_served_with_its_types(client: Client) -> None:
    javascript = {"text/javascript", "application/javascript"}
    types = {
        "dist/reader/zxing_reader.wasm": {"application/wasm"},  # else no streaming compile
        "dist/es/reader/index.js": javascript,
        "dist/es/share.js": javascript,
    }
    for name, content_types in types.items():
        response = await client.get(f"/static/vendor/{VENDOR.name}/{name}")
        assert response.status == 200, name
        assert response.content_type in content_types, name
        assert await response.read() == (VENDOR / name).read_bytes()


@pytest.mark.asyncio
async def test_pages_let_webassembly_compile_and_evaluate_no_text(client: Client) -> None:
    response = await client.get("/stock", headers=as_roles(Role.MANAGER))
    policy = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert "'unsafe-eval'" not in policy
