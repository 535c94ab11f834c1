"""The commands the county may send over MQTT, beside the built-in `ping`.

Each acts for `[mqtt] command_account`, looked up when the command comes (`Acting`), and that
account's rights are checked by the one policy, as if it had signed in to the web pages:
`reload` needs `config_change`, `ack` needs `alarm_ack` and acknowledges as the account's alarm
person, whom the alarm timeline records; `approve` needs `stock_approve` (the county, seed 002:
上级机构审核) and approves or refuses a return, scrap or same-level issue the clinic asked for.
A reply names the account that acted; a refusal is the reply (`ok: false`, its `code`). Each
command, done or refused, is in the audit log beside the web's changes (method `MQTT`, path
`cmd/NAME`, the account, 200, 403 when forbidden or 422).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from gateway.auth.acting import Acting
from gateway.auth.policy import Action, ForbiddenError, alarm_person, authorize
from gateway.core.errors import ColdchainError, GatewayError
from gateway.storage.audit_log import AuditLog

if TYPE_CHECKING:
    from gateway.alarms.engine import AlarmService
    from gateway.forward.mqtt import Command
    from gateway.ledgers.book import LedgerBook


def county_commands(
    acting: Acting,
    alarms: AlarmService | None,
    reload: Callable[[], Awaitable[str]],
    audit: AuditLog,
    *,
    ledger: LedgerBook | None = None,
) -> dict[str, Command]:
    """`reload` applies the configuration file again and says what it did."""

    async def reload_command(request: dict[str, object]) -> dict[str, object]:
        user = authorize(acting.for_commands(), Action.CONFIG_CHANGE)
        return {"ok": True, "account": user.name, "detail": await reload()}

    async def ack(request: dict[str, object]) -> dict[str, object]:
        user = authorize(acting.for_commands(), Action.ALARM_ACK)
        if alarms is None:
            raise GatewayError("alarms are not configured on this gateway; fix: add [alerts]")
        alarm, named, unit = request.get("alarm"), request.get("person"), request.get("unit")
        if not isinstance(alarm, str | int) or not isinstance(named, str | None):
            raise GatewayError(
                'ack needs "alarm" (number or id); "person", when given, is the alarm person '
                "of [mqtt] command_account"
            )
        people = {p for tier in (1, 2, 3) for p in alarms.alerts.tier_people(tier)}
        person = alarm_person(user, named, people)
        transitions = alarms.acknowledge(
            str(alarm), person, "mqtt", unit=unit if isinstance(unit, str) else None
        )
        return {
            "ok": True,
            "account": user.name,
            "person": person,
            "transitions": len(transitions),
        }

    async def approve(request: dict[str, object]) -> dict[str, object]:
        user = authorize(acting.for_commands(), Action.STOCK_APPROVE)
        if ledger is None:
            raise GatewayError("the ledgers are not configured on this gateway; fix: add [ledger]")
        approval_id, decision = request.get("approval_id"), request.get("approve")
        if not isinstance(approval_id, str) or not isinstance(decision, bool):
            raise GatewayError(
                'approve needs "approval_id" (text) and "approve" (true to approve, false to '
                "refuse)"
            )
        events = ledger.stock.decide(approval_id, approve=decision, approver=user.name)
        return {
            "ok": True,
            "account": user.name,
            "approval_id": approval_id,
            "decision": "approved" if decision else "rejected",
            "events": [{"event_id": e.event_id, "kind": e.kind, "code": e.code} for e in events],
        }

    commands = {"reload": reload_command, "ack": ack, "approve": approve}
    return {name: _audited(name, command, acting, audit) for name, command in commands.items()}


def _audited(name: str, command: Command, acting: Acting, audit: AuditLog) -> Command:
    async def run(request: dict[str, object]) -> dict[str, object]:
        path, who = f"cmd/{name}", acting.command_account
        try:
            reply = await command(request)
        except ColdchainError as error:
            status = 403 if isinstance(error, ForbiddenError) else 422
            audit.append("MQTT", path, who, status, f"{name} refused ({error.code}): {error}")
            raise
        audit.append("MQTT", path, who, 200, _summary(name, reply))
        return reply

    return run


def _summary(name: str, reply: dict[str, object]) -> str:
    if name == "ack":
        return f"acknowledged as {reply['person']}: {reply['transitions']} transition(s)"
    if name == "approve":
        events = reply["events"]
        count = len(events) if isinstance(events, list) else 0
        return f"{reply['decision']} {reply['approval_id']}: {count} movement(s)"
    return f"{name}: {reply.get('detail', 'done')}"
