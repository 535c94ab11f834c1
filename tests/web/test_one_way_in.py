"""One way in for each operation: every operation × every entry path × every role.

Issuing, silencing and closing reach the gateway by an HTTP route only; receiving, moving,
administering, stocktaking and acknowledging by an HTTP
route, by a scan posted over HTTP (it acts for the account or API token that posted it), by a
scanner wired to a station (it acts for the account its station is assigned to) and, for
acknowledging and reloading, by an MQTT command (it acts for `[mqtt] command_account`).
Whatever the path, the acting account's rights decide (`gateway.auth.policy.authorize`): a
refusal has the code "forbidden" and changes nothing, and what is done is recorded for that
account (the ledgers' actor, the alarm timeline's person), never for a station.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.alarms.engine import AlarmService
from gateway.auth.policy import PERMISSIONS, Action, ForbiddenError, Role
from gateway.core.clock import FakeClock
from gateway.forward.mqtt_commands import county_commands
from gateway.ledgers.book import LedgerBook
from gateway.ledgers.scans import LedgerScans
from gateway.storage.readings import StoredReading
from ledger.settings import LedgerSettings, StationAction
from probes.reading import ProbeStatus, Reading
from probes.scan import Scan
from tests.alarms.conftest import PROBE, UNIT
from tests.ledger.conftest import HEPB, SHIPMENT, UNITS_CSV, VILLAGE, code
from tests.web.conftest import PEOPLE, T0, Site, full_app, sign_in
from tests.web_support import add_account, bearer, csrf

pytestmark = pytest.mark.asyncio

LEDGER = LedgerSettings(
    platform_url="http://127.0.0.1:9/upload",
    stations={
        "receive-desk": StationAction.RECEIVE,
        "fridge-2": StationAction.MOVE,
        "vaccination-1": StationAction.ADMINISTER,
        "stocktake": StationAction.STOCKTAKE,
    },
    compartments={"fridge-2": "F1/冷冻"},
)
RECEIVED, MOVED, GIVEN, ISSUED = code(HEPB, 1), code(HEPB, 2), code(HEPB, 3), code(HEPB, 4)
LABEL = f"CCFRIDGE:{UNIT}:F1"


class Op(enum.StrEnum):
    RECEIVE = "receive"
    MOVE = "move"
    ADMINISTER = "administer"
    STOCKTAKE = "stocktake"
    ISSUE = "issue"
    ACK = "ack"
    SILENCE = "silence"
    CLOSE = "close"
    RELOAD = "reload"


class Way(enum.StrEnum):
    HTTP = "http-route"
    POSTED = "scan-posted-over-http"
    WIRED = "wired-scanner"
    MQTT = "mqtt-command"


NEEDS = {
    Op.RECEIVE: Action.STOCK_RECEIVE,
    Op.MOVE: Action.STOCK_RECEIVE,
    Op.ADMINISTER: Action.ADMINISTER,
    Op.STOCKTAKE: Action.STOCKTAKE,
    Op.ISSUE: Action.STOCK_ISSUE,
    Op.ACK: Action.ALARM_ACK,
    Op.SILENCE: Action.ALARM_SILENCE,
    Op.CLOSE: Action.ALARM_CLOSE,
    Op.RELOAD: Action.CONFIG_CHANGE,
}
SCANNED = (Op.RECEIVE, Op.MOVE, Op.ADMINISTER, Op.STOCKTAKE, Op.ACK)
CARRIES = {Way.HTTP: (*SCANNED, Op.ISSUE, Op.SILENCE, Op.CLOSE), Way.POSTED: SCANNED,
           Way.WIRED: SCANNED, Way.MQTT: (Op.ACK, Op.RELOAD)}  # fmt: skip
STATION = {Op.RECEIVE: "receive-desk", Op.MOVE: "fridge-2", Op.ADMINISTER: "vaccination-1",
           Op.STOCKTAKE: "stocktake", Op.ACK: "fridge-room"}  # fmt: skip
RAW = {Op.RECEIVE: RECEIVED, Op.MOVE: MOVED, Op.ADMINISTER: GIVEN, Op.STOCKTAKE: MOVED,
       Op.ACK: LABEL}  # fmt: skip
SCANNER = {Way.POSTED: "phone", Way.WIRED: "desk-scanner"}
HOW = {
    Way.HTTP: "web",
    Way.POSTED: "scan of the fridge label at fridge-room (phone)",
    Way.WIRED: "scan of the fridge label at fridge-room (desk-scanner)",
    Way.MQTT: "mqtt",
}


@dataclass
class Outcome:
    """What one attempt did: the refusal's code (None: done) and whom it was recorded for."""

    refused: str | None
    recorded: list[str] = field(default_factory=list)


@dataclass
class World:
    site: Site
    client: TestClient[web.Request, web.Application]
    caplog: pytest.LogCaptureFixture
    reloads: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def book(self) -> LedgerBook:
        return self.site.ledger

    @property
    def alarms(self) -> AlarmService:
        return self.site.alarms

    @property
    def stations(self) -> LedgerScans:
        return self.site.ledger_jobs.scans


async def open_probe_fault(alarms: AlarmService, clock: FakeClock) -> None:
    """Three faulty readings in a row: a probe fault alarm (number 1) opens at once; three
    good ones clear its condition, and it waits to be acknowledged and closed."""
    alarms.core.start(clock.now(), 0)
    faulty = [
        StoredReading(seq, Reading(PROBE, clock.now(), ProbeStatus.DISCONNECTED))
        for seq in (1, 2, 3)
    ]
    alarms.core.on_readings(faulty, clock.now())
    await clock.advance(60)
    good = [
        StoredReading(seq, Reading(PROBE, clock.now(), ProbeStatus.OK, 5.0)) for seq in (4, 5, 6)
    ]
    alarms.core.on_readings(good, clock.now())
    assert len(alarms.core.escalation.alarms) == 1


@pytest_asyncio.fixture
async def world(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[World]:
    clock = FakeClock(T0)
    with full_app(tmp_path / "data", clock, LEDGER) as site:
        for role in Role:  # every account answers as an alarm person: roles alone decide
            add_account(site.accounts, role.value, role, person=PEOPLE.get(role, "wang"))
        async with TestClient(TestServer(site.app, host="127.0.0.1", port=0)) as client:
            opened = World(site, client, caplog)
            opened.book.catalogue.import_json(json.dumps(SHIPMENT))
            opened.book.stock.units.import_csv(UNITS_CSV)
            for raw in (MOVED, GIVEN, ISSUED):
                opened.book.stock.receive(raw, event_id=f"setup:{raw}", actor="setup")
            await open_probe_fault(opened.alarms, clock)
            yield opened


async def enter(world: World, way: Way, role: Role) -> None:
    """Prepare the way in for an account of `role`."""
    if way is Way.HTTP:
        world.headers = csrf(await sign_in(world.client, role.value))
    elif way is Way.POSTED:
        secret, _ = world.site.accounts.create_token(role.value, "scanning app")
        world.headers = bearer(secret)
    elif way is Way.WIRED:
        world.site.acting.stations = {STATION[op]: role.value for op in SCANNED}
    else:
        world.site.acting.command_account = role.value


async def attempt(world: World, way: Way, op: Op) -> Outcome:
    if way is Way.HTTP:
        refused = await by_route(world, op)
    elif way is Way.MQTT:
        refused = await by_command(world, op)
    else:
        refused = await by_scan(world, way, op)
    return Outcome(refused, recorded(world, way, op))


async def by_route(world: World, op: Op) -> str | None:
    path, body = {
        Op.RECEIVE: ("/api/ledger/stock/receive", {"scan": RECEIVED, "event_id": "web:r"}),
        Op.MOVE: (
            "/api/ledger/stock/moves",
            {"codes": [MOVED], "compartment": "F1/冷冻", "event_id": "web:m"},
        ),
        Op.ADMINISTER: ("/api/ledger/stock/administer", {"scan": GIVEN, "event_id": "web:a"}),
        Op.STOCKTAKE: ("/api/ledger/stock/stocktake", {"scans": [MOVED]}),
        Op.ISSUE: (
            "/api/ledger/stock/issue",
            {"scan": ISSUED, "event_id": "web:i", "to_unit": VILLAGE},
        ),
        Op.ACK: ("/api/alarms/1/ack", {}),
        Op.SILENCE: (
            "/api/silences",
            {"why": "除霜", "until": "2026-03-02T12:00:00+08:00", "scope": "F1"},
        ),
        Op.CLOSE: ("/api/alarms/1/close", {"cause": "探头松动", "action": "重新插好"}),
    }[op]
    response = await world.client.post(path, json=body, headers=world.headers)
    if response.status in (200, 201):
        return None
    assert response.status == 403, await response.text()
    refusal = await response.json()
    assert isinstance(refusal["code"], str)
    return refusal["code"]


async def by_scan(world: World, way: Way, op: Op) -> str | None:
    station, scanner = STATION[op], SCANNER[way]
    if way is Way.POSTED:
        body = {"raw": RAW[op], "station": station, "scanner": scanner}
        response = await world.client.post("/api/scans", json=body, headers=world.headers)
        if response.status == 403:  # this account may not post scans at all
            refusal = await response.json()
            assert isinstance(refusal["code"], str)
            return refusal["code"]
        assert response.status == 201, await response.text()
    else:  # what a scanner driver calls with each scan
        clock = world.site.clock
        await world.site.sources.record(Scan(RAW[op].encode(), scanner, station, clock.now()))
    if op is Op.ACK:  # presence: a refusal is logged
        refusals = [
            r.getMessage() for r in world.caplog.records if "not taken as presence" in r.message
        ]
        world.caplog.clear()
        return "forbidden" if any("(forbidden)" in text for text in refusals) else None
    (result, *_) = world.stations.feed(station)
    assert result.ok or result.refusal == "forbidden", result
    return result.refusal


async def by_command(world: World, op: Op) -> str | None:
    async def reload() -> str:
        world.reloads += 1
        return "applied in place"

    commands = county_commands(world.site.acting, world.alarms, reload, world.site.audit)
    try:
        reply = await commands[op.value]({"alarm": 1})
    except ForbiddenError as error:
        return error.code
    assert reply["ok"] is True
    return None


def recorded(world: World, way: Way, op: Op) -> list[str]:
    """Whom the operation was recorded for, wherever the gateway records it."""
    conn = world.book.db.conn
    if op is Op.RECEIVE:
        rows = conn.execute(
            "SELECT actor FROM stock_events WHERE code = ? AND kind = 'receive'", (RECEIVED,)
        )
    elif op is Op.ADMINISTER:
        rows = conn.execute(
            "SELECT actor FROM stock_events WHERE code = ? AND kind = 'administer'", (GIVEN,)
        )
    elif op is Op.ISSUE:
        rows = conn.execute(
            "SELECT actor FROM stock_events WHERE code = ? AND kind = 'issue'", (ISSUED,)
        )
    elif op is Op.MOVE:
        rows = conn.execute("SELECT actor FROM location_events WHERE kind = 'move'")
    elif op is Op.ACK:
        (alarm,) = world.alarms.view()["alarms"]
        return [f"{ack['person']} by {ack['how']}" for ack in alarm["acks"]]
    elif op is Op.SILENCE:
        return [silence["who"] for silence in world.alarms.view()["silences"]]
    elif op is Op.CLOSE:
        (alarm,) = world.alarms.view()["alarms"]
        return [step["who"] for step in alarm["timeline"] if step["kind"] == "closed"]
    elif op is Op.RELOAD:  # the configuration records no one: the audit log names who reloaded
        entries = world.site.audit.entries()
        done = [e.user or "" for e in entries if e.path == "cmd/reload" and e.status == 200]
        assert len(done) == world.reloads
        return done
    elif way is Way.HTTP:  # a stocktake changes nothing: the audit log names who made it
        return [
            entry.user or ""
            for entry in world.site.audit.entries()
            if entry.path == "/api/ledger/stock/stocktake" and entry.status == 200
        ]
    else:
        return [r.actor or "" for r in world.stations.feed("stocktake") if r.ok]
    return [actor for (actor,) in rows]


def expected(way: Way, role: Role, op: Op) -> Outcome:
    may = role in PERMISSIONS[NEEDS[op]]
    if way is Way.POSTED:
        may = may and role in PERMISSIONS[Action.SCAN]
    if not may:
        return Outcome("forbidden")
    if op is Op.ACK:
        return Outcome(None, [f"{PEOPLE[role]} by {HOW[way]}"])
    if op in (Op.SILENCE, Op.CLOSE):  # as the account's alarm person
        return Outcome(None, [PEOPLE.get(role, "wang")])
    return Outcome(None, [role.value])


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("way", list(Way), ids=str)
async def test_every_operation_by_every_way_for_every_role(
    world: World, way: Way, role: Role
) -> None:
    world.caplog.set_level(logging.INFO)
    await enter(world, way, role)
    outcomes = {op: await attempt(world, way, op) for op in CARRIES[way]}
    assert outcomes == {op: expected(way, role, op) for op in CARRIES[way]}


async def test_the_matrix_can_fail_in_both_directions() -> None:
    """The expectations are not all alike: each way has operations some roles may and others
    may not do, so a check that refused or allowed everything would fail the matrix."""
    for way in Way:
        for op in CARRIES[way]:
            refused = {expected(way, role, op).refused for role in Role}
            assert refused == {None, "forbidden"}, (way, op)


async def test_a_station_whose_account_is_missing_disabled_or_unassigned_does_nothing(
    world: World,
) -> None:
    world.caplog.set_level(logging.INFO)
    acting, clock = world.site.acting, world.site.clock
    world.site.accounts.update("manager", disabled=True)
    acting.stations = {"receive-desk": "manager", "fridge-room": "wang.fang"}
    for station, raw in (("receive-desk", RECEIVED), ("fridge-room", LABEL), ("stocktake", MOVED)):
        await world.site.sources.record(Scan(raw.encode(), "desk", station, clock.now()))
    (receive,) = world.stations.feed("receive-desk")
    assert (receive.ok, receive.refusal, receive.field) == (False, "forbidden", "account")
    assert receive.reason is not None
    assert "acts for account 'manager', which is disabled" in receive.reason
    (stocktake,) = world.stations.feed("stocktake")
    assert stocktake.reason is not None
    assert "the scanner at station stocktake is assigned to no account" in stocktake.reason
    assert 'add stocktake = "ACCOUNT" under [station_accounts]' in stocktake.reason
    assert "acts for account 'wang.fang', which does not exist" in world.caplog.text
    assert recorded(world, Way.WIRED, Op.RECEIVE) == []
    assert recorded(world, Way.WIRED, Op.ACK) == []


async def test_mqtt_commands_without_an_account_are_refused(world: World) -> None:
    commands = county_commands(
        world.site.acting, world.alarms, world_reload_never, world.site.audit
    )
    for name in ("ack", "reload"):
        with pytest.raises(ForbiddenError, match=r"set \[mqtt\] command_account"):
            await commands[name]({"alarm": 1})
    assert recorded(world, Way.MQTT, Op.ACK) == []
    audited = [(e.method, e.path, e.user, e.status) for e in world.site.audit.entries()]
    assert sorted(audited) == [("MQTT", "cmd/ack", None, 403), ("MQTT", "cmd/reload", None, 403)]


async def world_reload_never() -> str:
    raise AssertionError("a refused reload must not reload")


async def test_an_mqtt_ack_naming_another_person_is_refused(world: World) -> None:
    world.site.acting.command_account = Role.MANAGER.value
    commands = county_commands(
        world.site.acting, world.alarms, world_reload_never, world.site.audit
    )
    with pytest.raises(ForbiddenError, match="manager is alarm person 'wang' and cannot act"):
        await commands["ack"]({"alarm": 1, "person": "li"})
    reply = await commands["ack"]({"alarm": 1, "person": "wang"})
    assert (reply["account"], reply["person"]) == ("manager", "wang")


async def test_assignments_that_would_be_refused_are_named_at_start_up(world: World) -> None:
    acting = world.site.acting
    acting.stations = {"receive-desk": "vaccinator", "vaccination-1": "vaccinator",
                       "fridge-2": "nobody"}  # fmt: skip
    acting.command_account = "county"
    assert acting.problems(world.stations.needs()) == [
        "station fridge-2 ([station_accounts]) acts for account 'nobody', which does not exist; "
        "fix: create it (`coldchain accounts add nobody --role ROLE`) or name another account",
        "station receive-desk ([station_accounts]): vaccinator (vaccinator) may not "
        "stock_receive; this needs one of: manager, so scans there are refused; fix: assign an "
        "account that may stock_receive",
    ]
    acting.stations = {"receive-desk": "manager", "vaccination-1": "vaccinator"}
    assert acting.problems(world.stations.needs()) == []
