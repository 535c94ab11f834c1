"""The clinic's web pages, served by the gateway itself (no internet, no CDN).

Plain HTML shells, one stylesheet and small JavaScript modules from `static/`; charts are
inline SVG drawn by `static/js/chart.js`. Chinese first, English from a switch; the strings of
each language are in `static/i18n/<lang>.json`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from aiohttp import web

from gateway.auth.policy import Action
from gateway.web.access import add_route
from gateway.web.ui.pages import add_page_routes
from gateway.web.ui.series import series

STATIC = Path(str(files("gateway.web.ui").joinpath("static")))


def add_ui_routes(app: web.Application) -> None:
    """The pages, their static files and the chart series endpoint."""
    add_page_routes(app)
    add_route(
        app,
        "GET",
        "/api/series",
        series,
        Action.VIEW,
        query=("probe", "since", "until", "hours", "points"),
    )
    app.router.add_static("/static/", STATIC, name="static")
