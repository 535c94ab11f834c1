"""Alarm persistence: one SQLite file, `alarms.sqlite3` in the gateway's data_dir (WAL).

Why a file of its own rather than tables in the readings database: SQLite has one writer per
file, and the recorder commits a reading batch every 250 ms with `BEGIN IMMEDIATE`; an alarm
step sharing that file would queue behind reading batches (and vice versa) on a slow SD card.
A separate file also keeps its own schema version and lets readings be pruned or the readings
file be replaced without touching the alarm history the county report needs. Nothing needs a
transaction spanning both files: the alarm side keeps, in its own transaction, the seq of the
last reading it evaluated (`evaluated_seq`); after a crash it re-reads the readings after that
seq from the readings store, so a committed reading is never skipped (DESIGN principle 1).

What one `commit(work)` writes in ONE transaction: the escalation state, the changed rule
states, the evaluated seq, every transition, the new outbox rows, the alarm summaries and the
WHO excursion records of one step. A crash leaves either all of it or none of it.

Times are whole milliseconds since the epoch (UTC) in columns, ISO strings inside JSON.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from alerts.channels.base import DeliveryResult
from alerts.outbox import EntryState, OutboxEntry
from gateway.storage.alarm_rows import (
    AlarmRow,
    AttemptRow,
    OutboxRow,
    TransitionRow,
    WhoEvent,
    WhoRow,
    Work,
    alarm_row,
    message_json,
    outbox_row,
)
from gateway.storage.readings import from_millis, to_millis
from gateway.storage.registry import ALARMS
from gateway.storage.sqlite_file import FileBacked, SqliteFile, Synchronous

META_ESCALATION = "escalation_state"
META_EVALUATED_SEQ = "evaluated_seq"
META_HEARTBEAT = "last_alive"
META_DIGEST_DUE = "digest_next_due"


# Spelled out in full (no string building) so each query is a reviewable constant; lists of
# ids are passed as one JSON array parameter (json_each).
_QUERY_DUE = (
    "SELECT id, alarm_id, person, tier, channel, reason, message, ack_link, created_at,"
    " next_attempt_at, attempts, state, detail FROM outbox"
    " WHERE state = ? AND next_attempt_at <= ? ORDER BY created_at, id LIMIT ?"
)
_QUERY_PENDING = (
    "SELECT id, alarm_id, person, tier, channel, reason, message, ack_link, created_at,"
    " next_attempt_at, attempts, state, detail FROM outbox"
    " WHERE state = ? ORDER BY id"
)
_QUERY_OUTBOX_FOR = (
    "SELECT id, alarm_id, person, tier, channel, reason, message, ack_link, created_at,"
    " next_attempt_at, attempts, state, detail FROM outbox"
    " WHERE alarm_id IN (SELECT value FROM json_each(?)) ORDER BY id"
)
_QUERY_OUTBOX_ALL = (
    "SELECT id, alarm_id, person, tier, channel, reason, message, ack_link, created_at,"
    " next_attempt_at, attempts, state, detail FROM outbox"
    " ORDER BY id"
)
_QUERY_ALARM_NO = (
    "SELECT no, id, opened_at, closed_at, closed_by, disposition, data FROM alarms WHERE no = ?"
)
_QUERY_ALARM_ID = (
    "SELECT no, id, opened_at, closed_at, closed_by, disposition, data FROM alarms WHERE id = ?"
)
_QUERY_ALARMS_BY_ID = (
    "SELECT no, id, opened_at, closed_at, closed_by, disposition, data FROM alarms"
    " WHERE id IN (SELECT value FROM json_each(?))"
)
_QUERY_CLOSED = (
    "SELECT no, id, opened_at, closed_at, closed_by, disposition, data FROM alarms"
    " WHERE closed_at IS NOT NULL ORDER BY closed_at DESC, no DESC LIMIT ?"
)
_QUERY_OPENED = (
    "SELECT no, id, opened_at, closed_at, closed_by, disposition, data FROM alarms"
    " WHERE opened_at >= ? AND opened_at < ? ORDER BY opened_at, no"
)
_QUERY_TRANSITIONS_ALL = "SELECT seq, alarm_id, at, kind, who, detail FROM transitions ORDER BY seq"
_QUERY_TRANSITIONS_FOR = (
    "SELECT seq, alarm_id, at, kind, who, detail FROM transitions"
    " WHERE alarm_id IN (SELECT value FROM json_each(?)) ORDER BY seq"
)
_QUERY_ATTEMPTS_FOR = (
    "SELECT outbox_id, at, outcome, detail FROM attempts"
    " WHERE outbox_id IN (SELECT value FROM json_each(?)) ORDER BY id"
)


class AlarmStore(FileBacked):
    """The alarm tables in their own SQLite file; every method is short and synchronous."""

    def __init__(self, path: Path, *, synchronous: Synchronous = "NORMAL") -> None:
        self.path = path
        self._file = SqliteFile(
            path, what=ALARMS.what, migrations=ALARMS.migrations, synchronous=synchronous
        )

    # -- one step, one transaction ---------------------------------------------------------

    def commit(self, work: Work) -> list[int]:
        """Write one step's changes atomically; returns the ids of the new outbox rows."""
        if work.is_empty():
            return []
        conn = self._file.connection
        ids: list[int] = []
        with self._file.transaction("write an alarm step to"):
            meta = dict(work.meta)
            if work.escalation is not None:
                meta[META_ESCALATION] = json.dumps(work.escalation, ensure_ascii=False)
            if work.evaluated_seq is not None:
                meta[META_EVALUATED_SEQ] = str(work.evaluated_seq)
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                meta.items(),
            )
            conn.executemany(
                "INSERT INTO rule_states (compartment, state) VALUES (?, ?)"
                " ON CONFLICT (compartment) DO UPDATE SET state = excluded.state",
                [(ref, json.dumps(state)) for ref, state in work.rule_states.items()],
            )
            conn.executemany(
                "INSERT INTO transitions (alarm_id, at, kind, who, detail) VALUES (?, ?, ?, ?, ?)",
                [
                    (t.alarm_id, to_millis(t.at), str(t.kind), t.who, t.detail)
                    for t in work.transitions
                ],
            )
            conn.executemany(
                "INSERT INTO alarms (id, kind, subject, probe, opened_at, data)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                [
                    (alarm_id, kind, subject, probe, to_millis(opened), json.dumps(data))
                    for alarm_id, (kind, subject, probe, opened, data) in work.alarms.items()
                ],
            )
            conn.executemany(
                "UPDATE alarms SET closed_at = ?, closed_by = ?, disposition = ? WHERE id = ?",
                [(to_millis(at), who, what, alarm_id) for alarm_id, at, who, what in work.closes],
            )
            conn.executemany(
                "UPDATE outbox SET state = ?, detail = ? WHERE alarm_id = ? AND state = ?",
                [
                    (EntryState.SUPERSEDED, reason, alarm_id, EntryState.PENDING)
                    for alarm_id, reason in work.cancel_pending
                ],
            )
            for row in work.outbox:
                created = to_millis(row.created_at)
                cursor = conn.execute(
                    "INSERT INTO outbox (alarm_id, person, tier, channel, reason, message,"
                    " ack_link, created_at, next_attempt_at, state)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        row.alarm_id,
                        row.person,
                        row.tier,
                        str(row.channel),
                        row.reason,
                        message_json(row.message),
                        row.ack_link,
                        created,
                        created,
                        EntryState.PENDING,
                    ),
                )
                ids.append(int(cursor.lastrowid or 0))
            for event in work.who:
                self._who(conn, event)
        return ids

    @staticmethod
    def _who(conn: sqlite3.Connection, event: WhoEvent) -> None:
        if not event.cleared:
            conn.execute(
                "INSERT INTO who_excursions (kind, compartment, probe, since, raised_at, value)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    event.kind,
                    event.compartment,
                    event.probe,
                    to_millis(event.since),
                    to_millis(event.at),
                    event.value,
                ),
            )
            return
        conn.execute(
            "UPDATE who_excursions SET cleared_at = ? WHERE id = (SELECT max(id) FROM"
            " who_excursions WHERE kind = ? AND compartment = ? AND probe IS ?"
            " AND cleared_at IS NULL)",
            (to_millis(event.at), event.kind, event.compartment, event.probe),
        )

    # -- meta ------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        rows = self._file.fetch("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.commit(Work(meta={key: value}))

    def escalation_state(self) -> dict[str, Any] | None:
        text = self.get_meta(META_ESCALATION)
        return None if text is None else dict(json.loads(text))

    def evaluated_seq(self) -> int | None:
        text = self.get_meta(META_EVALUATED_SEQ)
        return None if text is None else int(text)

    def rule_states(self) -> dict[str, dict[str, Any]]:
        rows = self._file.fetch("SELECT compartment, state FROM rule_states")
        return {str(ref): dict(json.loads(state)) for ref, state in rows}

    # -- outbox ----------------------------------------------------------------------------

    def due(self, now: datetime, limit: int = 500) -> list[OutboxRow]:
        """Pending rows whose next attempt is due, oldest first."""
        rows = self._file.fetch(
            _QUERY_DUE,
            (EntryState.PENDING, to_millis(now), limit),
        )
        return [outbox_row(row) for row in rows]

    def pending(self) -> list[OutboxRow]:
        rows = self._file.fetch(
            _QUERY_PENDING,
            (EntryState.PENDING,),
        )
        return [outbox_row(row) for row in rows]

    def next_attempt_at(self) -> datetime | None:
        rows = self._file.fetch(
            "SELECT min(next_attempt_at) FROM outbox WHERE state = ?", (EntryState.PENDING,)
        )
        value = rows[0][0] if rows else None
        return None if value is None else from_millis(int(value))

    def outbox_for(self, alarm_ids: Sequence[str]) -> list[OutboxRow]:
        if not alarm_ids:
            return []
        rows = self._file.fetch(_QUERY_OUTBOX_FOR, (json.dumps(list(alarm_ids)),))
        return [outbox_row(row) for row in rows]

    def outbox_all(self) -> list[OutboxRow]:
        rows = self._file.fetch(_QUERY_OUTBOX_ALL)
        return [outbox_row(row) for row in rows]

    def record_attempt(
        self, entry: OutboxEntry, result: DeliveryResult | None, at: datetime
    ) -> bool:
        """Persist one attempt's outcome (or a state change without an attempt, `result`
        None). Only a row still pending is changed: a row cancelled meanwhile (its alarm was
        closed) keeps its state, but the attempt is logged. False when the row was not
        pending any more."""
        conn = self._file.connection
        with self._file.transaction("record a delivery attempt in"):
            if result is not None:
                conn.execute(
                    "INSERT INTO attempts (outbox_id, at, outcome, detail) VALUES (?, ?, ?, ?)",
                    (int(entry.id), to_millis(at), str(result.outcome), result.detail),
                )
            cursor = conn.execute(
                "UPDATE outbox SET state = ?, attempts = ?, next_attempt_at = ?, detail = ?"
                " WHERE id = ? AND state = ?",
                (
                    str(entry.state),
                    entry.attempts,
                    to_millis(entry.next_attempt_at),
                    entry.detail,
                    int(entry.id),
                    EntryState.PENDING,
                ),
            )
        return cursor.rowcount == 1

    def update_entries(self, entries: Sequence[OutboxEntry]) -> None:
        """Persist state changes made without an attempt (superseded, expired, deferred)."""
        conn = self._file.connection
        with self._file.transaction("update outbox rows in"):
            conn.executemany(
                "UPDATE outbox SET state = ?, next_attempt_at = ?, detail = ?"
                " WHERE id = ? AND state = ?",
                [
                    (
                        str(e.state),
                        to_millis(e.next_attempt_at),
                        e.detail,
                        int(e.id),
                        EntryState.PENDING,
                    )
                    for e in entries
                ],
            )

    def outbox_counts(self) -> dict[str, int]:
        rows = self._file.fetch("SELECT state, count(*) FROM outbox GROUP BY state")
        counts = {str(state): 0 for state in EntryState}
        counts.update({str(state): int(count) for state, count in rows})
        return counts

    def attempts_for(self, outbox_ids: Sequence[str]) -> list[AttemptRow]:
        if not outbox_ids:
            return []
        ids = json.dumps([int(i) for i in outbox_ids])
        rows = self._file.fetch(_QUERY_ATTEMPTS_FOR, (ids,))
        return [AttemptRow(str(o), from_millis(at), str(out), str(d)) for o, at, out, d in rows]

    # -- history ---------------------------------------------------------------------------

    def alarm(self, ref: str) -> AlarmRow | None:
        """By number (`12`) or by full alarm id."""
        rows = self._file.fetch(_QUERY_ALARM_NO if ref.isdigit() else _QUERY_ALARM_ID, (ref,))
        return alarm_row(rows[0]) if rows else None

    def alarms_by_id(self, alarm_ids: Sequence[str]) -> dict[str, AlarmRow]:
        if not alarm_ids:
            return {}
        rows = self._file.fetch(_QUERY_ALARMS_BY_ID, (json.dumps(list(alarm_ids)),))
        return {row.id: row for row in map(alarm_row, rows)}

    def recent_closed(self, limit: int) -> list[AlarmRow]:
        rows = self._file.fetch(_QUERY_CLOSED, (limit,))
        return [alarm_row(row) for row in rows]

    def alarms_opened_between(self, start: datetime, end: datetime) -> list[AlarmRow]:
        rows = self._file.fetch(_QUERY_OPENED, (to_millis(start), to_millis(end)))
        return [alarm_row(row) for row in rows]

    def transitions_for(self, alarm_ids: Sequence[str]) -> list[TransitionRow]:
        if not alarm_ids:
            return []
        rows = self._file.fetch(_QUERY_TRANSITIONS_FOR, (json.dumps(list(alarm_ids)),))
        return [TransitionRow(s, a, from_millis(at), k, w, d) for s, a, at, k, w, d in rows]

    def transitions_after(self, seq: int, limit: int) -> list[TransitionRow]:
        """Transitions in seq order after `seq`: what the alarm-event forwarders send."""
        rows = self._file.fetch(
            "SELECT seq, alarm_id, at, kind, who, detail FROM transitions"
            " WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [TransitionRow(s, a, from_millis(at), k, w, d) for s, a, at, k, w, d in rows]

    def transitions(self) -> list[TransitionRow]:
        rows = self._file.fetch(_QUERY_TRANSITIONS_ALL)
        return [TransitionRow(s, a, from_millis(at), k, w, d) for s, a, at, k, w, d in rows]

    def who_excursions(self) -> list[WhoRow]:
        rows = self._file.fetch(
            "SELECT kind, compartment, probe, since, raised_at, value, cleared_at"
            " FROM who_excursions ORDER BY id"
        )
        return [
            WhoRow(
                k, c, p, from_millis(s), from_millis(r), v, None if e is None else from_millis(e)
            )
            for k, c, p, s, r, v, e in rows
        ]
