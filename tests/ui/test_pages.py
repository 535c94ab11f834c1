"""The page routes: sign-in redirect, role checks, what the shell tells the page, i18n."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from yarl import URL

from gateway.auth.policy import Action, Role, User
from gateway.web.ui import STATIC
from gateway.web.ui.pages import SCREENS, shell
from tests.access_support import as_roles

Client = TestClient[web.Request, web.Application]


class _BodyData(HTMLParser):
    """The data attributes of <body> and every <script> element."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.body = dict(attrs)
        if tag == "script":
            self.scripts.append(dict(attrs))


def parsed(html: str) -> _BodyData:
    parser = _BodyData()
    parser.feed(html)
    return parser


@pytest.mark.asyncio
async def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(client: Client) -> None:
    response = await client.get("/alarms?recent=5", allow_redirects=False)

    assert response.status == 302
    location = URL(response.headers["Location"])
    assert location.path == "/login"
    assert location.query["next"] == "/alarms?recent=5"


@pytest.mark.asyncio
async def test_a_vaccinator_may_not_open_the_technician_screen(client: Client) -> None:
    refused = await client.get("/technician", headers=as_roles(Role.VACCINATOR))
    allowed = await client.get("/technician", headers=as_roles(Role.TECHNICIAN))

    assert refused.status == 403
    assert "probe_bind" in await refused.text()
    assert allowed.status == 200


@pytest.mark.asyncio
async def test_the_excursions_screen_needs_a_sign_in_and_the_disposition_action(
    client: Client,
) -> None:
    signed_out = await client.get("/excursions", allow_redirects=False)
    refused = await client.get("/excursions", headers=as_roles(Role.VACCINATOR))
    head = await client.get("/excursions", headers=as_roles(Role.HEAD))
    manager = parsed(await (await client.get("/", headers=as_roles(Role.MANAGER))).text())
    technician = parsed(await (await client.get("/", headers=as_roles(Role.TECHNICIAN))).text())

    assert signed_out.status == 302
    assert URL(signed_out.headers["Location"]).query["next"] == "/excursions"
    assert refused.status == 403
    assert "excursion_disposition" in await refused.text()
    assert head.status == 200
    assert parsed(await head.text()).body["data-script"] == "excursions"
    assert "excursions" in json.loads(manager.body["data-nav"] or "")
    assert "excursions" not in json.loads(technician.body["data-nav"] or "")


@pytest.mark.asyncio
async def test_the_navigation_lists_only_the_screens_of_the_roles(client: Client) -> None:
    vaccinator = parsed(await (await client.get("/", headers=as_roles(Role.VACCINATOR))).text())
    technician = parsed(await (await client.get("/", headers=as_roles(Role.TECHNICIAN))).text())

    assert "technician" not in json.loads(vaccinator.body["data-nav"] or "")
    assert "technician" in json.loads(technician.body["data-nav"] or "")
    assert "administer" in json.loads(vaccinator.body["data-actions"] or "")
    assert "probe_bind" not in json.loads(vaccinator.body["data-actions"] or "")


@pytest.mark.asyncio
async def test_pages_load_only_scripts_of_the_gateway_under_a_strict_policy(
    client: Client,
) -> None:
    screens = ("/", "/alarms", "/checks", "/stock", "/excursions", "/vaccinations")
    for path in (*screens, "/fridges/F1/冷藏"):
        response = await client.get(path, headers=as_roles(Role.MANAGER))
        assert response.status == 200, path
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        page = parsed(await response.text())
        [script] = page.scripts
        assert (script["src"] or "").startswith("/static/js/")
        served = await client.get(script["src"] or "")
        assert served.status == 200, script


@pytest.mark.asyncio
async def test_an_unknown_compartment_is_not_found(client: Client) -> None:
    response = await client.get("/fridges/F9/冷藏", headers=as_roles(Role.MANAGER))

    assert response.status == 404
    assert "F9/冷藏" in await response.text()


def test_what_a_user_typed_reaches_the_shell_escaped() -> None:
    user = User(
        "wang",
        frozenset({Role.MANAGER}),
        display_name='"><script>alert(1)</script>',
        person="wang",
    )

    html = shell(SCREENS[0], user, "6101030203", "10001")

    assert "<script>alert" not in html
    assert parsed(html).body["data-display"] == '"><script>alert(1)</script>'


def test_every_screen_needs_an_action_that_exists() -> None:
    assert {screen.action for screen in SCREENS} <= set(Action)
    for screen in SCREENS:
        assert (STATIC / "js" / f"{screen.script}.js").is_file(), screen.script


def _keys_used(folder: Path) -> set[str]:
    pattern = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""")
    labels = re.compile(r"""label:\s*["']([a-z_]+\.[a-z0-9_.]+)["']""")
    keys: set[str] = set()
    for script in folder.glob("*.js"):
        text = script.read_text(encoding="utf-8")
        keys |= set(pattern.findall(text)) | set(labels.findall(text))
    return keys


def test_every_string_the_screens_use_is_translated_into_each_language() -> None:
    used = _keys_used(STATIC / "js")
    languages = {
        path.stem: json.loads(path.read_text("utf-8")) for path in (STATIC / "i18n").glob("*.json")
    }

    assert set(languages) == {"zh", "en"}
    for name, strings in languages.items():
        assert used <= set(strings), (name, sorted(used - set(strings)))
    assert set(languages["zh"]) == set(languages["en"])
