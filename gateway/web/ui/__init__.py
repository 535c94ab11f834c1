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
from gateway.web.access import OPEN, add_route
from gateway.web.ui.pages import add_page_routes
from gateway.web.ui.series import series

STATIC = Path(str(files("gateway.web.ui").joinpath("static")))


# The service worker's own policy: it fetches from this origin only.
WORKER_CSP = "default-src 'self'; frame-ancestors 'none'"


async def service_worker(request: web.Request) -> web.Response:
    """static/js/sw.js at the root, so that it may serve every page (its scope is `/`)."""
    return web.Response(
        text=(STATIC / "js" / "sw.js").read_text(encoding="utf-8"),
        content_type="text/javascript",
        headers={
            "Service-Worker-Allowed": "/",
            "Content-Security-Policy": WORKER_CSP,
            "Cache-Control": "no-store",
        },
    )


def add_ui_routes(app: web.Application) -> None:
    """The pages, their static files, the service worker, the chart series, the pushed
    events and the monthly report page."""
    from gateway.web.routes.live import add_live_routes
    from gateway.web.routes.reports import add_report_routes

    add_page_routes(app)
    add_live_routes(app)
    add_report_routes(app)
    add_route(app, "GET", "/sw.js", service_worker, OPEN, produces=("text/javascript",))
    add_route(
        app,
        "GET",
        "/api/series",
        series,
        Action.VIEW,
        query=("probe", "since", "until", "hours", "points"),
    )
    app.router.add_static("/static/", STATIC, name="static")
