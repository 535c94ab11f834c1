"""The page routes: one HTML shell per screen, filled in by that screen's script.

Each page needs a signed-in user (else a redirect to /login) and the action the screen is for
(else 403). The shell carries only what the server knows for certain (who is signed in, which
actions their roles allow, which screens to list) in escaped data attributes; everything else,
above all anything a user typed, reaches the page as JSON and is put in with `textContent`.
A strict Content-Security-Policy (scripts and styles from this origin only, no inline script)
keeps a stray `<script>` in a stored text inert even if a screen got it wrong;
'wasm-unsafe-eval' lets the camera's barcode decoder (WebAssembly from static/vendor/) compile,
and allows no `eval` of text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from importlib.resources import files
from string import Template
from urllib.parse import quote

from aiohttp import web

from gateway.auth.policy import Action, User
from gateway.web.access import Handler, current_user
from gateway.web.error_pages import error_page
from gateway.web.keys import settings_of

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class Screen:
    """A page: its path, the script that draws it, and the action a user needs to open it."""

    path: str
    script: str
    action: Action
    in_nav: bool = True


SCREENS = (
    Screen("/", "dashboard", Action.VIEW),
    Screen("/fridges/{ref:.+}", "fridge", Action.VIEW, in_nav=False),
    Screen("/alarms", "alarms", Action.VIEW),
    Screen("/technician", "technician", Action.PROBE_BIND),
    Screen("/checks", "checks", Action.VIEW),
    Screen("/stock", "stock", Action.VIEW),
    Screen("/excursions", "excursions", Action.EXCURSION_DISPOSITION),
    Screen("/vaccinations", "vaccinations", Action.VIEW),
    Screen("/requisition", "requisition", Action.VIEW, in_nav=False),
    Screen("/reports", "reports", Action.REPORT_VIEW),
    Screen("/accounts", "accounts", Action.ACCOUNTS),
    Screen("/audit", "audit", Action.AUDIT_VIEW),
)

_SHELL = Template(
    files("gateway.web.ui").joinpath("templates/page.html").read_text(encoding="utf-8")
)


def shell(screen: Screen, user: User, unit: str, gateway: str) -> str:
    """The page's HTML for `user`; every value is escaped for an attribute."""
    nav = [item.script for item in SCREENS if item.in_nav and user.may(item.action)]
    data = {
        "script": screen.script,
        "user": user.name,
        "display": user.display_name or user.name,
        "person": user.person or "",
        "roles": json.dumps(sorted(user.roles)),
        "actions": json.dumps(sorted(action.value for action in Action if user.may(action))),
        "nav": json.dumps(nav),
        "unit": unit,
        "gateway": gateway,
    }
    return _SHELL.substitute({key: escape(value, quote=True) for key, value in data.items()})


def _page_handler(screen: Screen) -> Handler:
    async def page(request: web.Request) -> web.StreamResponse:
        user = current_user(request)
        if user is None:
            raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='/')}")
        if not user.may(screen.action):
            return error_page(
                403,
                f"{user.name}: your roles do not include {screen.action.value}; "
                "ask the admin for a role that does",
            )
        settings = settings_of(request)
        if "ref" in request.match_info:
            refs = {
                f"{fridge.code}/{compartment.name}"
                for fridge in settings.fridges
                for compartment in fridge.compartments
            }
            if request.match_info["ref"] not in refs:
                return error_page(
                    404,
                    f"no fridge compartment {request.match_info['ref']!r}; "
                    "open the dashboard at / to pick one",
                )
        body = shell(screen, user, settings.unit.code, settings.gateway.number)
        return web.Response(
            text=body, content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS
        )

    return page


def add_page_routes(app: web.Application) -> None:
    for screen in SCREENS:
        app.router.add_get(screen.path, _page_handler(screen), name=f"page-{screen.script}")
