"""The circulation upload queue in the ledger file: ``circulation_queue``, one row per version
of a circulation message (`ledger.circulation_xml`), written in the transaction of the stock
movement it reports. Only the latest version of an event counts; a correction (a new version)
replaces a rejected one and is sent again."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.storage.ledger.db import LedgerDB, to_ms
from gateway.storage.ledger.upload_queue import Answer
from ledger.circulation_xml import CirculationEvent, from_json, to_json
from ledger.errors import (
    CirculationNotRejectedError,
    CirculationUnknownError,
    CirculationVersionStaleError,
)
from ledger.tables import rejection_kind

_LATEST = "version = (SELECT MAX(version) FROM circulation_queue r WHERE r.event_id = q.event_id)"


@dataclass(frozen=True, slots=True)
class Rejected:
    event: CirculationEvent
    message: str
    kind: str  # of the rejection (ledger.tables.rejection_kind)


class CirculationQueue:
    def __init__(self, db: LedgerDB) -> None:
        self.db = db

    @staticmethod
    def enqueue(conn: sqlite3.Connection, event: CirculationEvent, at: datetime) -> None:
        """Queue `event` inside the caller's transaction."""
        conn.execute(
            "INSERT INTO circulation_queue (event_id, version, kind, at_ms, body, enqueued_ms,"
            " state, attempts) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0)",
            (event.event_id, event.version, event.kind, to_ms(event.at), to_json(event),
             to_ms(at)),
        )  # fmt: skip

    def pending(self) -> list[CirculationEvent]:
        """Latest versions waiting to be sent, oldest movement first."""
        return [event for event, *_ in self._latest("state = 'pending'")]

    def rejections(self) -> list[Rejected]:
        """Latest versions the platform refused, not corrected yet."""
        return [
            Rejected(event, error, kind)
            for event, error, kind in self._latest("state = 'rejected'")
        ]

    def latest(self, event_id: str) -> tuple[CirculationEvent, str] | None:
        """The latest version of `event_id` and its state (None: not a circulation event)."""
        with self.db.translated("read circulation queue"):
            row = self.db.conn.execute(
                "SELECT body, state FROM circulation_queue WHERE event_id = ?"
                " ORDER BY version DESC LIMIT 1",
                (event_id,),
            ).fetchone()
        return None if row is None else (from_json(row[0]), row[1])

    def counts(self) -> dict[str, int]:
        """Latest versions per state."""
        with self.db.translated("read circulation queue"):
            rows = self.db.conn.execute(
                f"SELECT state, COUNT(*) FROM circulation_queue q WHERE {_LATEST} GROUP BY state"  # noqa: S608 - constant text
            ).fetchall()
        return dict(rows)

    def correct(self, event: CirculationEvent, at: datetime) -> None:
        """Queue the corrected version `event` of a rejected message."""
        with self.db.transaction("correct circulation message") as conn:
            found = conn.execute(
                "SELECT MAX(version), (SELECT state FROM circulation_queue WHERE event_id = ?"
                " ORDER BY version DESC LIMIT 1) FROM circulation_queue WHERE event_id = ?",
                (event.event_id, event.event_id),
            ).fetchone()
            if found[0] is None:
                raise CirculationUnknownError(
                    "event_id",
                    f"{event.event_id} is no circulation message",
                    params={"event_id": event.event_id},
                )
            if found[1] != "rejected":
                raise CirculationNotRejectedError(
                    "event_id",
                    f"{event.event_id} is {found[1]}: only a rejected message is corrected",
                    params={"event_id": event.event_id, "state": found[1]},
                )
            if event.version != found[0] + 1:
                raise CirculationVersionStaleError(
                    "version",
                    f"{event.event_id}: correct version {found[0]}",
                    params={"event_id": event.event_id, "version": found[0]},
                )
            self.enqueue(conn, event, at)

    def answered(self, at: datetime, answers: Sequence[Answer]) -> tuple[int, int]:
        """The platform's verdicts (sent at once or fetched later as feedback); answers about
        superseded or unknown versions change nothing. Returns (accepted, rejected)."""
        accepted = rejected = 0
        with self.db.transaction("mark circulation uploads") as conn:
            for answer in answers:
                key = (answer.record_id, answer.version)
                if answer.ok:
                    changed = conn.execute(
                        "UPDATE circulation_queue SET state = 'accepted', attempts = attempts + 1,"
                        " accepted_ms = ?, error = '', error_kind = '' WHERE event_id = ? AND"
                        " version = ?", (to_ms(at), *key),
                    ).rowcount  # fmt: skip
                    accepted += changed
                else:
                    changed = conn.execute(
                        "UPDATE circulation_queue SET state = 'rejected', attempts = attempts + 1,"
                        " error = ?, error_kind = ? WHERE event_id = ? AND version = ?",
                        (answer.message, rejection_kind(answer.message), *key),
                    ).rowcount  # fmt: skip
                    rejected += changed
        return accepted, rejected

    def _latest(self, where: str) -> list[tuple[CirculationEvent, str, str]]:
        with self.db.translated("read circulation queue"):
            rows = self.db.conn.execute(
                "SELECT body, error, error_kind FROM circulation_queue q"  # noqa: S608 - constant text
                f" WHERE {where} AND {_LATEST} ORDER BY at_ms, event_id"
            ).fetchall()
        return [(from_json(body), error, kind) for body, error, kind in rows]
