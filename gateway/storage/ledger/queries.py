"""Queries the gateway's ledger services and routes ask of the ledger file that belong to no
single ledger: the `meta` table (cursors, daily jobs), the upload queue's state, approval
requests, a package's movements, excursions in the order recorded.

Each reads in one statement (or writes in one transaction) and translates sqlite3 errors into
`LedgerStoreError` through the `LedgerDB`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from gateway.storage.ledger.db import LedgerDB, from_ms, to_ms
from ledger.holds import Override


def compartment_of(db: LedgerDB, code: str, at_ms: int) -> str | None:
    """The compartment a package was last put in, at or before `at_ms`."""
    with db.translated("read location"):
        row = db.conn.execute(
            "SELECT e.compartment FROM location_units u JOIN location_events e"
            " ON e.seq = u.event_seq WHERE u.code = ? AND e.at_ms <= ?"
            " ORDER BY e.seq DESC LIMIT 1",
            (code, at_ms),
        ).fetchone()
    return None if row is None else str(row[0])


#: The action of a manager's override itself, as a row of `hold_overrides`.
OVERRIDE = "override"


def stays(db: LedgerDB, code: str, until_ms: int) -> list[tuple[str, int, int | None]]:
    """Where a package has been up to `until_ms`: (compartment, from_ms, to_ms or None for
    where it is now), oldest first."""
    with db.translated("read location"):
        rows = db.conn.execute(
            "SELECT e.compartment, e.at_ms FROM location_units u JOIN location_events e"
            " ON e.seq = u.event_seq WHERE u.code = ? AND e.at_ms <= ? ORDER BY e.seq",
            (code, until_ms),
        ).fetchall()
    ends: list[int | None] = [*(int(row[1]) for row in rows[1:]), None]
    return [(str(row[0]), int(row[1]), end) for row, end in zip(rows, ends, strict=False)]


@dataclass(frozen=True, slots=True)
class HoldOverride:
    """A manager's override of a compartment's hold (`action` OVERRIDE), or one movement it
    let through (`action` receiving, moving into it, administering)."""

    at: datetime
    compartment: str
    alarm: str
    action: str
    event_id: str
    codes: tuple[str, ...]
    who: str
    reason: str


def record_hold_override(db: LedgerDB, override: HoldOverride) -> None:
    """Within the caller's transaction: the override that let a movement through a hold."""
    db.conn.execute(
        "INSERT INTO hold_overrides (at_ms, compartment, alarm, action, event_id, codes, who,"
        " reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            to_ms(override.at), override.compartment, override.alarm, override.action,
            override.event_id, json.dumps(list(override.codes)), override.who, override.reason,
        ),
    )  # fmt: skip


def hold_grant(db: LedgerDB, compartment: str, alarm_id: str) -> Override | None:
    """The manager's override of the hold alarm `alarm_id` puts on `compartment`, if any."""
    with db.translated("read hold overrides"):
        row = db.conn.execute(
            "SELECT who, reason, at_ms FROM hold_overrides WHERE compartment = ? AND alarm = ?"
            " AND action = ? ORDER BY seq DESC LIMIT 1",
            (compartment, alarm_id, OVERRIDE),
        ).fetchone()
    return None if row is None else Override(row[0], row[1], from_ms(row[2]))


def hold_overrides(db: LedgerDB, limit: int = 100) -> list[HoldOverride]:
    """The newest overrides first."""
    with db.translated("read hold overrides"):
        rows = db.conn.execute(
            "SELECT at_ms, compartment, alarm, action, event_id, codes, who, reason"
            " FROM hold_overrides ORDER BY seq DESC LIMIT ?",
            (limit,),
        ).fetchall()
    return [
        HoldOverride(from_ms(r[0]), r[1], r[2], r[3], r[4], tuple(json.loads(r[5])), r[6], r[7])
        for r in rows
    ]


def read_meta(db: LedgerDB, key: str) -> str | None:
    """A value the gateway keeps in the ledger file's ``meta`` table (cursors, daily jobs)."""
    with db.translated("read ledger meta"):
        row = db.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def write_meta(db: LedgerDB, values: Mapping[str, str]) -> None:
    with db.transaction("write ledger meta") as conn:
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            values.items(),
        )


@dataclass(frozen=True, slots=True)
class QueueStats:
    pending: int
    oldest_at: datetime | None
    last_attempt_at: datetime | None
    last_attempt_records: int
    last_outcome: str | None


def queue_stats(db: LedgerDB) -> QueueStats:
    """Record versions not yet accepted (latest versions only) and the last upload attempt."""
    with db.translated("read upload queue"):
        count, oldest = db.conn.execute(
            "SELECT COUNT(*), MIN(vaccinated_ms) FROM upload_queue q WHERE state != 'accepted'"
            " AND version = (SELECT MAX(version) FROM upload_queue r"
            " WHERE r.record_id = q.record_id)"
        ).fetchone()
        last = db.conn.execute(
            "SELECT at_ms, records, outcome FROM upload_attempts ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    return QueueStats(
        pending=count,
        oldest_at=None if oldest is None else from_ms(oldest),
        last_attempt_at=None if last is None else from_ms(last[0]),
        last_attempt_records=0 if last is None else last[1],
        last_outcome=None if last is None else last[2],
    )


def _first_ms(db: LedgerDB, sql: str) -> datetime | None:
    with db.translated("read first day"):
        (first_ms,) = db.conn.execute(sql).fetchone()
    return None if first_ms is None else from_ms(first_ms)


def first_vaccination_at(db: LedgerDB) -> datetime | None:
    """When the earliest recorded dose was given (None: no record yet)."""
    return _first_ms(db, "SELECT MIN(vaccinated_ms) FROM record_versions")


def first_administration_at(db: LedgerDB) -> datetime | None:
    """When stock was first administered (None: never)."""
    return _first_ms(db, "SELECT MIN(at_ms) FROM stock_events WHERE kind = 'administer'")


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    approval_id: str
    kind: str
    codes: list[str]
    requested_by: str
    requested_at: datetime
    reason: str
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None
    to_unit: str  # a return's or same-level issue's destination ('' for a scrap)
    reason_code: str  # a scrap's 疫苗报废原因代码


def approval_requests(db: LedgerDB) -> list[ApprovalRequest]:
    """Returns, scraps and same-level issues asked for, newest first, with their decision
    (None: pending)."""
    with db.translated("read approvals"):
        rows = db.conn.execute(
            "SELECT a.approval_id, a.kind, a.codes, a.requested_by, a.requested_ms, a.reason,"
            " d.decision, d.decided_by, d.decided_ms, a.to_unit, a.reason_code FROM approvals a"
            " LEFT JOIN approval_decisions d USING (approval_id) ORDER BY a.requested_ms DESC"
        ).fetchall()
    return [
        ApprovalRequest(
            approval_id, kind, json.loads(codes), requested_by, from_ms(requested_ms), reason,
            decision, decided_by, None if decided_ms is None else from_ms(decided_ms), to_unit,
            reason_code,
        )
        for approval_id, kind, codes, requested_by, requested_ms, reason, decision, decided_by,
        decided_ms, to_unit, reason_code in rows
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Movement:
    seq: int
    event_id: str
    kind: str
    doses: int
    packages: int
    at: datetime
    actor: str
    reason: str
    ref: str


def movements(db: LedgerDB, code: str) -> list[Movement]:
    """Every stock event of one package, oldest first."""
    with db.translated("read movements"):
        rows = db.conn.execute(
            "SELECT seq, event_id, kind, doses, packages, at_ms, actor, reason, ref"
            " FROM stock_events WHERE code = ? ORDER BY seq",
            (code,),
        ).fetchall()
    return [
        Movement(seq, event_id, kind, doses, packages, from_ms(at_ms), actor, reason, ref)
        for seq, event_id, kind, doses, packages, at_ms, actor, reason, ref in rows
    ]


def excursions_after(db: LedgerDB, cursor: int, limit: int) -> list[tuple[int, str]]:
    """(rowid, excursion id) of the excursions recorded after `cursor`, in the order recorded.

    Excursions are only ever added (never deleted; the file is never vacuumed), so the rowid
    orders them as recorded and serves as a cursor."""
    return _excursion_rows(
        db,
        "SELECT rowid, excursion_id FROM excursions WHERE rowid > ? ORDER BY rowid LIMIT ?",
        (cursor, limit),
    )


def excursions_started_between(
    db: LedgerDB, start: datetime, end: datetime
) -> list[tuple[int, str]]:
    """(rowid, excursion id) of the excursions that began in [start, end)."""
    return _excursion_rows(
        db,
        "SELECT rowid, excursion_id FROM excursions WHERE start_ms >= ? AND start_ms < ?"
        " ORDER BY rowid",
        (to_ms(start), to_ms(end)),
    )


def _excursion_rows(db: LedgerDB, query: str, params: tuple[int, int]) -> list[tuple[int, str]]:
    with db.translated("read excursions for the county"):
        return [(int(seq), str(xid)) for seq, xid in db.conn.execute(query, params)]
