"""The upload queue in the ledger file: ``upload_queue`` (one row per record version, written
with the version by the vaccination ledger) and ``upload_attempts`` (one row per POST).

Only the latest version of a record counts: a superseded version is never sent and never
reported. What is due, when a deadline runs out and what the platform answered is decided by
`gateway.ledgers.upload`; this module reads and writes the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.storage.ledger.db import LedgerDB, from_ms, to_ms
from ledger.tables import rejection_kind
from ledger.vaccination_records import DoseRecord, record_from_json

_LATEST = "version = (SELECT MAX(version) FROM upload_queue r WHERE r.record_id = q.record_id)"


@dataclass(frozen=True, slots=True)
class Queued:
    """One latest record version not yet accepted."""

    record_id: str
    version: int
    vaccinated_at: datetime
    state: str
    error: str


@dataclass(frozen=True, slots=True)
class Answer:
    """The platform's verdict on one record version."""

    record_id: str
    version: int
    ok: bool
    message: str


class UploadQueue:
    def __init__(self, db: LedgerDB) -> None:
        self.db = db

    def pending(self) -> list[Queued]:
        """Latest versions waiting to be sent, oldest vaccination first."""
        return self._queued("state = 'pending'", (), "vaccinated_ms, record_id")

    def unaccepted_since(self, vaccinated_before: datetime) -> list[Queued]:
        """Latest versions not accepted whose dose was given before `vaccinated_before`."""
        return self._queued(
            "state != 'accepted' AND vaccinated_ms <= ?",
            (to_ms(vaccinated_before),),
            "vaccinated_ms",
        )

    def _queued(self, where: str, params: Sequence[object], order: str) -> list[Queued]:
        with self.db.translated("read queue"):
            rows = self.db.conn.execute(
                "SELECT record_id, version, vaccinated_ms, state, error FROM upload_queue q"  # noqa: S608 - constant text
                f" WHERE {where} AND {_LATEST} ORDER BY {order}",
                params,
            ).fetchall()
        return [Queued(r, v, from_ms(ms), s, e) for r, v, ms, s, e in rows]

    def records(self, keys: Sequence[tuple[str, int]]) -> list[DoseRecord]:
        """The stored record versions named by (record_id, version)."""
        with self.db.translated("read records"):
            return [
                record_from_json(self.db.conn.execute(
                    "SELECT body FROM record_versions WHERE record_id = ? AND version = ?", key
                ).fetchone()[0])
                for key in keys
            ]  # fmt: skip

    def answered(
        self, at: datetime, outcome: str, keys: Sequence[tuple[str, int]], answers: list[Answer]
    ) -> tuple[int, int]:
        """Record one attempt and the platform's answers about `keys` (answers about other
        versions are ignored); returns (accepted, rejected)."""
        with self.db.transaction("mark uploads") as conn:
            conn.execute(
                "INSERT INTO upload_attempts (at_ms, records, outcome) VALUES (?, ?, ?)",
                (to_ms(at), len(keys), outcome),
            )
            sent = set(keys)
            return self._verdicts(at, [a for a in answers if (a.record_id, a.version) in sent])

    def feedback(self, at: datetime, answers: list[Answer]) -> tuple[int, int]:
        """Verdicts fetched later from the platform's feedback (no POST was made); answers
        about versions not queued change nothing. Returns (accepted, rejected)."""
        with self.db.transaction("apply feedback"):
            return self._verdicts(at, answers)

    def _verdicts(self, at: datetime, answers: list[Answer]) -> tuple[int, int]:
        """Apply verdicts inside the caller's transaction; counts the rows they changed."""
        accepted = rejected = 0
        for answer in answers:
            key = (answer.record_id, answer.version)
            if answer.ok:
                accepted += self.db.conn.execute(
                    "UPDATE upload_queue SET state = 'accepted', attempts = attempts + 1,"
                    " accepted_ms = ?, error = '', error_kind = '' WHERE record_id = ? AND"
                    " version = ?", (to_ms(at), *key),
                ).rowcount  # fmt: skip
            else:
                rejected += self.db.conn.execute(
                    "UPDATE upload_queue SET state = 'rejected', attempts = attempts + 1,"
                    " error = ?, error_kind = ? WHERE record_id = ? AND version = ?",
                    (answer.message, rejection_kind(answer.message), *key),
                ).rowcount  # fmt: skip
        return accepted, rejected

    def attempted(self, at: datetime, count: int, outcome: str) -> None:
        """Record an attempt that reached no verdict (the platform down)."""
        with self.db.transaction("note attempt") as conn:
            conn.execute(
                "INSERT INTO upload_attempts (at_ms, records, outcome) VALUES (?, ?, ?)",
                (to_ms(at), count, outcome),
            )

    def rejections(self) -> list[tuple[str, int, str, str]]:
        """(record_id, version, message, kind) of rejected versions not yet corrected."""
        with self.db.translated("read queue"):
            return [tuple(row) for row in self.db.conn.execute(
                "SELECT record_id, version, error, error_kind FROM upload_queue q WHERE state ="  # noqa: S608 - constant text
                f" 'rejected' AND {_LATEST} ORDER BY record_id"
            )]  # fmt: skip

    def vaccinated_between(
        self, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime | None]]:
        """Per record vaccinated in [start, end): when, and when a version was first accepted."""
        with self.db.translated("read rates"):
            rows = self.db.conn.execute(
                "SELECT vaccinated_ms, MIN(accepted_ms) FROM upload_queue WHERE"
                " vaccinated_ms >= ? AND vaccinated_ms < ? GROUP BY record_id",
                (to_ms(start), to_ms(end)),
            ).fetchall()
        return [(from_ms(ms), None if acc is None else from_ms(acc)) for ms, acc in rows]
