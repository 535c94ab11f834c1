"""HTTP routes of the alarms: list, acknowledge, close, silence, and the signed ack link page.

Each route declares the action it needs (`gateway.web.access`); acknowledging and closing act as
the alarm person of the signed-in account (`User.person`), never as a person named in the
body. The ack link page needs no sign-in: the link itself is signed for one person.

Refusals answer 4xx in the one refusal shape (`gateway.web.json_http`), with the escalation's
code and the fix, and change nothing; a step that could not be persisted answers 503 (retry).
The ack link page is a small Chinese HTML page, because it opens on a phone from a WeChat
message or an SMS.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated, Any

from aiohttp import web
from pydantic import ConfigDict, Field

from alerts.errors import (
    AckLinkExpiredError,
    AckLinkForgedError,
    AlarmClosedError,
    ConditionStillHoldsError,
    RejectedEventError,
    SilenceRefusedError,
    UnknownAlarmError,
    UnknownPersonError,
    UnknownSilenceError,
    WrongUnitError,
)
from alerts.escalation_state import Transition
from alerts.messages import KIND_NAMES, place_of
from alerts.model import ConditionKind
from gateway.alarms.engine import AlarmService
from gateway.auth.policy import Action, ForbiddenError, User, alarm_person
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.errors import StoreError
from gateway.web import sizes
from gateway.web.access import HTML, OPEN, add_route, forbidden, require
from gateway.web.audit_note import note
from gateway.web.auth_middleware import CSRF_FIELD, session_csrf
from gateway.web.json_http import RequestBody, json_response, parse_body, refused
from gateway.web.keys import ALARMS
from gateway.web.naming import named_people
from gateway.web.query import query_whole

MAX_RECENT = 500


class AckBody(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"how": "web"}]},
    )
    person: Annotated[str, Field(min_length=1, max_length=sizes.CODE)] | None = None
    how: Annotated[str, Field(min_length=1, max_length=sizes.LABEL)] = "web"
    unit: Annotated[str, Field(max_length=sizes.CODE)] | None = None


class CloseBody(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"cause": "压缩机故障", "action": "疫苗转移到2号冰箱"}]},
    )
    person: Annotated[str, Field(min_length=1, max_length=sizes.CODE)] | None = None
    cause: Annotated[str, Field(min_length=1, max_length=sizes.REASON)]
    action: Annotated[str, Field(min_length=1, max_length=sizes.REASON)]
    unit: Annotated[str, Field(max_length=sizes.CODE)] | None = None


class SilenceBody(RequestBody):
    """`scope`: a fridge (`F1`) or a compartment (`F1/冷藏`); left out: the whole unit.
    `why` is bounded by [alerts.silences] reason_max; the cap here only keeps bodies small."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"why": "除霜", "until": "2026-03-02T12:00:00+08:00", "scope": "F1"}]
        },
    )
    who: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    why: Annotated[str, Field(min_length=1, max_length=2000)]
    until: datetime
    scope: Annotated[str, Field(min_length=1, max_length=200)] | None = None


def add_alarm_routes(app: web.Application, service: AlarmService) -> None:
    app[ALARMS] = service
    add_route(app, "GET", "/api/alarms", list_alarms, Action.VIEW, query=("recent",))
    add_route(app, "POST", "/api/alarms/{ref}/ack", acknowledge, Action.ALARM_ACK, body=AckBody)
    add_route(app, "POST", "/api/alarms/{ref}/close", close, Action.ALARM_CLOSE, body=CloseBody)
    add_route(app, "POST", "/api/silences", silence, Action.ALARM_SILENCE, body=SilenceBody)
    add_route(app, "POST", "/api/silences/{no}/end", end_silence, Action.ALARM_SILENCE)
    add_route(app, "GET", "/ack/{token}", ack_link_page, OPEN, produces=HTML)
    add_route(app, "POST", "/ack/{token}", ack_link, OPEN, produces=HTML)


def _error(
    status: type[web.HTTPException],
    message: str,
    field: str | None = None,
    code: str | None = None,
) -> web.HTTPException:
    return refused(status, message, field=field, code=code)


def _refused(error: RejectedEventError | StoreError, service: AlarmService) -> web.HTTPException:
    """The status and fix for an event the escalation refused (nothing changed)."""
    people = sorted({p for tier in (1, 2, 3) for p in service.alerts.tier_people(tier)})
    if isinstance(error, UnknownSilenceError):
        return _error(web.HTTPNotFound, str(error), "no", error.code)
    if isinstance(error, SilenceRefusedError):
        return _error(web.HTTPUnprocessableEntity, str(error), code=error.code)
    fixes: list[tuple[type[Exception], type[web.HTTPException], str]] = [
        (UnknownAlarmError, web.HTTPNotFound, "list the alarms with GET /api/alarms"),
        (AlarmClosedError, web.HTTPConflict, "nothing to do: a new alarm opens if it recurs"),
        (WrongUnitError, web.HTTPForbidden, "send it to the gateway of that unit"),
        (UnknownPersonError, web.HTTPForbidden, f"use a person id of a tier: {', '.join(people)}"),
        (
            ConditionStillHoldsError,
            web.HTTPConflict,
            "acknowledge now; close after the condition has cleared",
        ),
    ]
    for kind, status, fix in fixes:
        if isinstance(error, kind):
            return _error(status, f"{error}; fix: {fix}", "ref", error.code)
    if isinstance(error, StoreError):
        return _error(web.HTTPServiceUnavailable, f"{error}; retry in a moment", code=error.code)
    return _error(web.HTTPUnprocessableEntity, str(error), code=error.code)


def _acting_person(user: User, named: str | None, service: AlarmService) -> str:
    """The alarm person the signed-in account answers as; a body naming another is refused."""
    people = {p for tier in (1, 2, 3) for p in service.alerts.tier_people(tier)}
    try:
        return alarm_person(user, named, people)
    except ForbiddenError as refused:
        raise forbidden(refused) from None


def _transitions(transitions: list[Transition]) -> list[dict[str, Any]]:
    return [
        {"alarm_id": t.alarm_id, "at": t.at.isoformat(), "kind": str(t.kind), "who": t.who}
        for t in transitions
    ]


async def list_alarms(request: web.Request) -> web.Response:
    require(request, Action.VIEW)
    service = request.app[ALARMS]
    recent = query_whole(request, "recent", 50, 0, MAX_RECENT)
    return json_response(service.view(recent) | named_people(request.app))


async def acknowledge(request: web.Request) -> web.Response:
    user = require(request, Action.ALARM_ACK)
    service = request.app[ALARMS]
    body = await parse_body(request, AckBody)
    person = _acting_person(user, body.person, service)
    try:
        done = service.acknowledge(request.match_info["ref"], person, body.how, body.unit)
    except (RejectedEventError, StoreError) as error:
        raise _refused(error, service) from None
    return json_response({"ok": True, "transitions": _transitions(done)})


async def close(request: web.Request) -> web.Response:
    user = require(request, Action.ALARM_CLOSE)
    service = request.app[ALARMS]
    body = await parse_body(request, CloseBody)
    person = _acting_person(user, body.person, service)
    try:
        done = service.close_alarm(
            request.match_info["ref"], person, body.cause, body.action, body.unit
        )
    except (RejectedEventError, StoreError) as error:
        raise _refused(error, service) from None
    return json_response({"ok": True, "transitions": _transitions(done)})


async def silence(request: web.Request) -> web.Response:
    user = require(request, Action.ALARM_SILENCE)
    service = request.app[ALARMS]
    body = await parse_body(request, SilenceBody)
    # Technicians silence for defrosting too and need not be alarm people.
    who = user.person or user.name
    if body.who is not None and body.who != who:
        raise _error(
            web.HTTPForbidden,
            f"{user.name} silences as {who!r}, not {body.who!r}; fix: leave out who",
            "who",
            "forbidden",
        )
    if body.until.tzinfo is None:
        raise _error(
            web.HTTPUnprocessableEntity,
            f"until={body.until.isoformat()} has no UTC offset; fix: add one, e.g. +08:00",
            "until",
            "time_without_offset",
        )
    try:
        done = service.silence(user, body.why, body.until, body.scope)
    except ForbiddenError as error:
        raise forbidden(error) from None
    except (RejectedEventError, StoreError) as error:
        raise _refused(error, service) from None
    scope = body.scope or "the whole unit"
    note(request, f"silence of {scope} until {body.until.isoformat()}: {body.why}")
    return json_response({"ok": True, "transitions": _transitions(done)})


async def end_silence(request: web.Request) -> web.Response:
    user = require(request, Action.ALARM_SILENCE)
    service = request.app[ALARMS]
    text = request.match_info["no"]
    if not (text.isascii() and text.isdigit() and len(text) < 19):
        raise _error(
            web.HTTPNotFound,
            f"{text!r} is not a silence number; fix: use the no of GET /api/alarms' silences",
            "no",
            UnknownSilenceError.code,
        )
    try:
        done = service.end_silence(user, int(text))
    except ForbiddenError as error:
        raise forbidden(error) from None
    except (RejectedEventError, StoreError) as error:
        raise _refused(error, service) from None
    note(request, f"silence #{text} ended early")
    return json_response({"ok": True, "transitions": _transitions(done)})


_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; line-height: 1.5; max-width: 36em; }}
dt {{ color: #555; }} dd {{ margin: 0 0 .6em 0; font-size: 1.15em; }}
button {{ font-size: 1.2em; padding: .8em 1.2em; width: 100%; border: 0; border-radius: .4em;
  background: #b00020; color: #fff; }}
</style></head>
<body>
<h1>{title}</h1>
{body}
</body></html>
"""


def _page(status: int, title: str, text: str) -> web.Response:
    return _html(status, title, f"<p>{escape(text)}</p>")


def _html(status: int, title: str, body: str) -> web.Response:
    page = _PAGE.format(title=escape(title), body=body)
    response = web.Response(status=status, text=page, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is the credential
    return response


def _link_refusal(error: Exception) -> web.Response:
    if isinstance(error, AckLinkForgedError):
        return _page(403, "链接无效", f"此确认链接无效或被篡改，未做任何确认。（{error}）")
    if isinstance(error, AckLinkExpiredError):
        return _page(
            410, "链接已过期", f"请使用最新报警消息中的链接，或在网关上确认到场。（{error}）"
        )
    if isinstance(error, AlarmClosedError):
        return _page(409, "报警已关闭", "该报警已处置并关闭，无需再确认。")
    if isinstance(error, UnknownAlarmError):
        return _page(404, "报警不存在", "本网关上没有这条报警，请查看最新消息。")
    return _page(409, "无法确认", f"{error}")


async def ack_link_page(request: web.Request) -> web.Response:
    """What the link is for: who, which alarm, and a button. Looking changes nothing (a link
    preview or a mail scanner opens it too); only the button's POST acknowledges."""
    service = request.app[ALARMS]
    try:
        claim, alarm = service.read_link(request.match_info["token"])
    except (AckLinkForgedError, AckLinkExpiredError) as error:
        return _link_refusal(error)
    if alarm is None:
        return _page(409, "报警已关闭", "该报警已处置并关闭，或不在本网关上，无需再确认。")
    names = {person.id: person.name for person in service.alerts.people}
    place = place_of(service.settings.unit.name, service.settings.fridges, alarm.condition.subject)
    since = alarm.since.astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M")
    facts = [
        ("确认人", f"{names.get(claim.person, claim.person)}（{claim.person}）"),
        ("报警", f"{KIND_NAMES[alarm.condition.kind]}：{place.unit_name} {place.words}"),
        ("开始", f"{since}（北京时间）"),
    ]
    if alarm.current is not None:
        facts.append(("当前温度", f"{alarm.current:.1f} °C"))
    if alarm.peak is not None:
        cold = alarm.condition.kind is ConditionKind.TOO_COLD
        facts.append(("最低温度" if cold else "最高温度", f"{alarm.peak:.1f} °C"))
    csrf = session_csrf(request)
    hidden = (
        "" if csrf is None else f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf)}">'
    )
    body = (
        "<dl>"
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
        + "</dl>"
        + f'<form method="post">{hidden}<button type="submit">我已到场，确认</button></form>'
        + "<p>点击按钮才会记录确认；仅打开此页不会确认。</p>"
    )
    return _html(200, "确认到场", body)


async def ack_link(request: web.Request) -> web.Response:
    """The button of the link's page: acknowledge as the link's person."""
    service = request.app[ALARMS]
    try:
        claim, done = service.acknowledge_link(request.match_info["token"])
    except (AckLinkForgedError, AckLinkExpiredError, RejectedEventError, StoreError) as error:
        return _link_refusal(error)
    when = service.clock.now().astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M")
    already = "（此前已确认过）" if not done else ""
    return _page(
        200,
        "已确认到场",
        f"{claim.person}：已记录您于 {when} 确认到场{already}。"
        "报警将在温度恢复正常并登记原因和处置措施后关闭。",
    )
