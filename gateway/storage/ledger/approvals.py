"""Movements that wait for the upper level: a return up, a scrap, a same-level issue is asked
for (`request_approval`, the packages held meanwhile) and approved or rejected
(`decide_approval`, an approval applying the movements in one transaction)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gateway.storage.ledger.db import to_ms
from gateway.storage.ledger.stock_values import ON_HAND, EventResult, Upload
from ledger.stock_errors import (
    ApprovalKindUnknownError,
    ApprovalNotNeededError,
    ApprovalUnknownError,
    EventConflictError,
    FieldNotForKindError,
    PackageNotInStockError,
    ScrapReasonUnknownError,
    StockFieldEmptyError,
)
from ledger.units import Route, check_return

if TYPE_CHECKING:
    from gateway.storage.ledger.stock import StockLedger


def request_approval(
    stock: StockLedger, kind: str, codes: list[bytes | str], *, approval_id: str, actor: str,
    reason: str, to_unit: str = "", reason_code: str = "",
) -> str:  # fmt: skip
    """Ask the upper level to approve a ``return`` (up to `to_unit`), a ``scrap`` (with its
    `reason_code`, 疫苗报废原因代码) or a same-level ``issue`` (to `to_unit`)."""
    to_unit, reason_code = to_unit.strip(), reason_code.strip()
    _request_fields(stock.scrap_reasons, kind, reason, to_unit, reason_code)
    if not codes:
        raise StockFieldEmptyError("codes", "no package scanned")
    items = [stock.resolve_scan(raw) for raw in codes]
    with stock.db.transaction("request approval") as conn:
        row = conn.execute(
            "SELECT kind, codes, to_unit, reason_code FROM approvals WHERE approval_id = ?",
            (approval_id,),
        ).fetchone()
        listed = json.dumps([item.code for item in items])
        if row is not None:
            if tuple(row) == (kind, listed, to_unit, reason_code):
                return approval_id
            raise EventConflictError(
                "approval_id", f"{approval_id} was already used for another request"
            )
        _request_target(stock, kind, to_unit)
        for item in items:
            stock.on_hand(item.code, kind)
        conn.execute(
            "INSERT INTO approvals (approval_id, kind, codes, requested_by, requested_ms,"
            " reason, to_unit, reason_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (approval_id, kind, listed, actor, to_ms(stock.clock.now()), reason, to_unit,
             reason_code),
        )  # fmt: skip
    return approval_id


def _request_fields(
    scrap_reasons: Mapping[str, str], kind: str, reason: str, to_unit: str, reason_code: str
) -> None:
    if kind not in {"return", "scrap", "issue"}:
        raise ApprovalKindUnknownError(
            "kind",
            f"{kind!r}: returns, scraps and same-level issues need an approval",
            params={"kind": kind},
        )
    if not reason.strip():
        raise StockFieldEmptyError("reason", f"empty: a {kind} needs a reason")
    if kind == "scrap":
        if reason_code not in scrap_reasons:
            known = ", ".join(f"{c} {n}" for c, n in sorted(scrap_reasons.items()))
            empty = "empty" if not reason_code else f"{reason_code!r} is not a reason code"
            raise ScrapReasonUnknownError(
                "reason_code",
                f"{empty}: a scrap names its reason ({known})",
                params={"value": reason_code, "known": known},
            )
        if to_unit:
            raise FieldNotForKindError(
                "to_unit", "a scrap goes to no unit: leave it out", params={"kind": kind}
            )
    elif not to_unit:
        raise StockFieldEmptyError("to_unit", f"empty: say which unit the {kind} goes to")
    elif reason_code:
        raise FieldNotForKindError(
            "reason_code",
            f"only a scrap has a reason code, not a {kind}",
            params={"kind": kind},
        )


def _request_target(stock: StockLedger, kind: str, to_unit: str) -> None:
    if kind == "return":
        check_return(stock.own_unit(), stock.units.known(to_unit, "to_unit", "the upper unit"))
    elif kind == "issue" and stock.route_to(to_unit) is Route.DIRECT:
        raise ApprovalNotNeededError(
            "to_unit",
            f"{to_unit} is of a lower level: issue to it directly, no approval",
            params={"unit": to_unit},
        )


def decide_approval(
    stock: StockLedger, approval_id: str, *, approve: bool, approver: str
) -> list[EventResult]:
    """The upper level's decision; an approval applies the movements in one transaction."""
    if not approver.strip():
        raise StockFieldEmptyError("approver", "empty")
    with stock.db.transaction("decide approval") as conn:
        row = conn.execute(
            "SELECT kind, codes, requested_by, reason, to_unit, reason_code FROM approvals"
            " WHERE approval_id = ?",
            (approval_id,),
        ).fetchone()
        if row is None:
            raise ApprovalUnknownError(
                "approval_id",
                f"{approval_id} is not a pending request",
                params={"approval_id": approval_id},
            )
        kind, codes, requested_by, reason, to_unit, reason_code = row
        decided = conn.execute(
            "SELECT decision FROM approval_decisions WHERE approval_id = ?", (approval_id,)
        ).fetchone()
        wanted = "approved" if approve else "rejected"
        if decided is not None:
            if decided[0] != wanted:
                raise EventConflictError("approval_id", f"{approval_id} was already {decided[0]}")
            return []
        now = stock.clock.now()
        conn.execute(
            "INSERT INTO approval_decisions VALUES (?, ?, ?, ?)",
            (approval_id, wanted, approver, to_ms(now)),
        )
        results = []
        if approve:
            for code in json.loads(codes):
                state = stock.state(code)
                if state.state not in ON_HAND:
                    raise PackageNotInStockError(
                        "trace_code",
                        f"{code} is no longer in stock ({state.state})",
                        params={"code": code, "state": state.state},
                    )
                item = stock.resolved(code)
                event_id = f"{approval_id}:{code}"
                to = f"to {to_unit}, " if to_unit else ""
                stock.append(
                    event_id, kind, item, (-state.doses_left, -1), now=now,
                    actor=requested_by, reason=reason, ref=f"{to}approved by {approver}",
                    upload=Upload(to_unit, reason_code, approver),
                )  # fmt: skip
                results.append(EventResult(event_id, kind, code, duplicate=False))
    return results
