"""GET /api/reports/monthly/{month}: the clinic's monthly report, generated on request.

The same report the gateway writes on the 1st of each month (`gateway.reports.schedule`) and
`coldchain report monthly` prints, for any month: its printable page (HTML), or that page as a
file to keep (`?download=1`). A month written wrongly is refused as `report_failed`.
"""

from __future__ import annotations

from aiohttp import web

from analysis.html import render_html
from gateway.auth.policy import Action
from gateway.reports.clinic import clinic_report
from gateway.web.access import HTML, add_route, require
from gateway.web.keys import CLOCK, settings_of


async def monthly(request: web.Request) -> web.Response:
    require(request, Action.REPORT_VIEW)
    settings = settings_of(request)
    month = request.match_info["month"]
    report = await clinic_report(
        settings, settings.gateway.data_dir, month, now=request.app[CLOCK].now()
    )
    headers = {}
    if request.query.get("download") == "1":
        headers["Content-Disposition"] = f'attachment; filename="report-{month}.html"'
    return web.Response(
        text=render_html(report), content_type="text/html", charset="utf-8", headers=headers
    )


def add_report_routes(app: web.Application) -> None:
    add_route(
        app,
        "GET",
        "/api/reports/monthly/{month}",
        monthly,
        Action.REPORT_VIEW,
        produces=HTML,
        query=("download",),
    )
