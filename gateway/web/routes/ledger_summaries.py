"""HTTP routes of the daily summary tables (表1 by age group, 表2 by crowd category): the
tables as JSON, the printable sheets, and 摸底总人数 (the survey counts) they are set against."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field, StringConstraints

from gateway.auth.policy import Action
from gateway.core.clinic_time import CLINIC_TZ
from gateway.ledgers.book import LedgerBook
from gateway.storage.ledger.queries import read_meta, write_meta
from gateway.web import sizes
from gateway.web.access import HTML, add_route, require
from gateway.web.audit_note import note
from gateway.web.json_http import RequestBody, json_response, parse_body, refusal
from gateway.web.routes.ledger_http import BOOK, iso, ledger_refusals, query_day
from ledger.summaries import SummaryTable, daily_tables
from ledger.summary_sheet import TITLES, sheets_csv, sheets_html, summary_sheets
from ledger.vaccination_records import DoseRecord


def add_summary_routes(app: web.Application) -> None:
    add_route(app, "GET", "/api/ledger/summaries", summaries, Action.UPLOAD_VIEW, query=("day",))
    add_route(
        app, "GET", "/api/ledger/summaries/sheet", summary_sheet, Action.UPLOAD_VIEW,
        query=("day", "by", "format"), produces=HTML,
    )  # fmt: skip
    add_route(
        app, "PUT", "/api/ledger/summaries/survey", put_survey, Action.CATALOGUE_IMPORT,
        body=SurveyBody,
    )  # fmt: skip


def _tables_until(
    book: LedgerBook, records: list[DoseRecord], day: date
) -> dict[str, SummaryTable]:
    """The day's tables, cumulative over every earlier day with doses (chained day by day)."""
    by_day: dict[date, list[DoseRecord]] = defaultdict(list)
    for record in records:
        by_day[record.vaccinated_at.astimezone(CLINIC_TZ).date()].append(record)
    before: dict[str, SummaryTable] | None = None
    for earlier in sorted(d for d in by_day if d < day):
        before = daily_tables(by_day[earlier], earlier, book.tables, before)
    return daily_tables(by_day.get(day, []), day, book.tables, before)


def _table_json(table: SummaryTable) -> dict[str, Any]:
    keys = sorted(set(table.today) | set(table.cumulative))
    return {
        "by": table.by,
        "zero_report": table.zero_report,
        "due_at": iso(table.due_at),
        "rows": [
            {
                "manufacturer_code": maker,
                "group": group,
                "dose": dose,
                "today": table.today.get((maker, group, dose), 0),
                "cumulative": table.cumulative.get((maker, group, dose), 0),
            }
            for maker, group, dose in keys
        ],
    }


async def summaries(request: web.Request) -> web.Response:
    """The daily summary tables (by age group, by crowd category) of `day`."""
    require(request, Action.UPLOAD_VIEW)
    book = request.app[BOOK]
    day = query_day(request, book)
    with ledger_refusals(request):
        tables = _tables_until(book, book.vaccinations.current_records(), day)
    return json_response(
        {"day": day.isoformat(), "tables": {by: _table_json(t) for by, t in tables.items()}}
    )


class SurveyBody(RequestBody):
    """摸底总人数 per group of one table: age group labels or crowd category codes."""

    by: Literal["age_group", "crowd_category"]
    counts: Annotated[
        dict[Annotated[str, StringConstraints(max_length=sizes.CODE)], Annotated[int, Field(ge=0)]],
        Field(max_length=64),
    ]


def _survey(book: LedgerBook, by: str) -> dict[str, int]:
    text = read_meta(book.db, f"survey:{by}")
    return {} if text is None else {str(k): int(v) for k, v in json.loads(text).items()}


async def put_survey(request: web.Request) -> web.Response:
    """Set 摸底总人数 of the groups of one table (those not named are left as they were)."""
    require(request, Action.CATALOGUE_IMPORT)
    body = await parse_body(request, SurveyBody)
    book = request.app[BOOK]
    groups = (
        {group.label for group in book.tables.age_groups}
        if body.by == "age_group"
        else set(book.tables.crowd_categories)
    )
    unknown = sorted(set(body.counts) - groups)
    if unknown:
        raise refusal(
            web.HTTPUnprocessableEntity,
            [
                (
                    "counts",
                    f"{unknown[0]!r} is not a group of {body.by} ({', '.join(sorted(groups))})",
                )
            ],
        )
    with ledger_refusals(request):
        counts = _survey(book, body.by) | body.counts
        write_meta(book.db, {f"survey:{body.by}": json.dumps(counts, ensure_ascii=False)})
    note(request, f"摸底总人数 of {body.by} set for {len(body.counts)} group(s)")
    return json_response({"by": body.by, "counts": counts})


async def summary_sheet(request: web.Request) -> web.Response:
    """表1/表2 of `day` as the forms lay them out: `format=html` (printable, default), `csv`
    or `json`; `by=age_group` (default) or `crowd_category`."""
    require(request, Action.UPLOAD_VIEW)
    book = request.app[BOOK]
    day = query_day(request, book)
    by = request.query.get("by", "age_group")
    shape = request.query.get("format", "html")
    if by not in TITLES:
        raise refusal(web.HTTPBadRequest, [("by", f"{by!r}: give age_group or crowd_category")])
    if shape not in {"html", "csv", "json"}:
        raise refusal(web.HTTPBadRequest, [("format", f"{shape!r}: give html, csv or json")])
    with ledger_refusals(request):
        table = _tables_until(book, book.vaccinations.current_records(), day)[by]
        sheets = summary_sheets(table, book.tables, _survey(book, by))
        name = book.clinic_name()
    if shape == "csv":
        return web.Response(
            body=("\ufeff" + sheets_csv(sheets)).encode("utf-8"),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="summary-{by}-{day}.csv"'},
        )
    if shape == "json":
        return json_response({"day": day.isoformat(), "by": by, "sheets": [
            {"manufacturer": s.manufacturer, "zero_report": s.zero_report, "rows": [
                {"group": r.group, "label": r.label, "survey": r.survey,
                 "doses": [{"today": t, "cumulative": c} for t, c in r.counts]}
                for r in s.rows]}
            for s in sheets]})  # fmt: skip
    page = sheets_html(sheets, unit_name=name, printed_at=book.clock.now())
    return web.Response(text=page, content_type="text/html", charset="utf-8")
