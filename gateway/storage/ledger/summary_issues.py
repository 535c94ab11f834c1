"""The day's 汇总出库 in the stock ledger: its stored parts, and storing the next one (the doses
given that day and not in an earlier part), inside the caller's transaction."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, time, timedelta

from gateway.core.clinic_time import CLINIC_TZ
from gateway.storage.ledger.db import from_ms, to_ms
from gateway.storage.ledger.stock_values import SummaryPart


def summary_parts(conn: sqlite3.Connection, day: date) -> tuple[SummaryPart, ...]:
    rows = conn.execute(
        "SELECT part, at_ms, actor, lines FROM summary_issues WHERE day = ? ORDER BY part",
        (day.isoformat(),),
    ).fetchall()
    return tuple(
        SummaryPart(part, from_ms(at_ms), actor, {(p, b): n for p, b, n in json.loads(lines)})
        for part, at_ms, actor, lines in rows
    )


def store_summary_part(
    conn: sqlite3.Connection, day: date, part: int, *, actor: str, now: datetime
) -> None:
    """Store part `part` of the day's issue: the doses of `day` not in an earlier part (a
    supplementary part with nothing in it is not stored)."""
    start = datetime.combine(day, time(), CLINIC_TZ)
    (through,) = conn.execute(
        "SELECT COALESCE(MAX(through_seq), 0) FROM summary_issues WHERE day = ?",
        (day.isoformat(),),
    ).fetchone()
    rows = conn.execute(
        "SELECT product_id, batch_no, COUNT(*), MAX(seq) FROM stock_events"
        " WHERE kind = 'administer' AND at_ms >= ? AND at_ms < ? AND seq > ?"
        " GROUP BY product_id, batch_no ORDER BY product_id, batch_no",
        (to_ms(start), to_ms(start + timedelta(days=1)), through),
    ).fetchall()
    if part > 1 and not rows:
        return
    last = max((row[3] for row in rows), default=through)
    if part == 1:
        (last,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM stock_events").fetchone()
    conn.execute(
        "INSERT INTO summary_issues (day, part, through_seq, at_ms, actor, lines)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (day.isoformat(), part, last, to_ms(now), actor,
         json.dumps([[p, b, n] for p, b, n, _ in rows], ensure_ascii=False)),
    )  # fmt: skip
