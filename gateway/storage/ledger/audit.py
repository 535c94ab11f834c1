"""Who read which person's records: one row per read in ``record_reads`` (append-only).

DESIGN principle 9 asks that every read of a record be audited. The HTTP edge notes a read
before it answers; when the note cannot be written the read is refused (no unaudited reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.core.clock import Clock
from gateway.storage.ledger.db import LedgerDB, from_ms, to_ms
from ledger.errors import RecordError, RecordFieldEmptyError

#: what was read: a recipient, a person's doses, a certificate, one record's versions, a day list
WHATS = frozenset({"recipient", "history", "certificate", "record", "day_list", "register"})
MAX_PURPOSE = 200


@dataclass(frozen=True, slots=True)
class RecordRead:
    seq: int
    at: datetime
    reader: str
    what: str
    archive_no: str
    record_id: str
    purpose: str


class ReadAudit:
    def __init__(self, db: LedgerDB, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def note(
        self,
        reader: str,
        what: str,
        *,
        archive_no: str = "",
        record_id: str = "",
        purpose: str = "",
    ) -> RecordRead:
        """Append one read; refused (nothing written) when the reader or the kind is missing."""
        if not reader.strip():
            raise RecordFieldEmptyError("reader", "empty: every read of a record names who read it")
        if what not in WHATS:
            raise RecordError("what", f"{what!r} is not one of {sorted(WHATS)}")
        if len(purpose) > MAX_PURPOSE:
            raise RecordError("purpose", f"longer than {MAX_PURPOSE} characters")
        at = self.clock.now()
        with self.db.transaction("note record read") as conn:
            cursor = conn.execute(
                "INSERT INTO record_reads (at_ms, reader, what, archive_no, record_id, purpose)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (to_ms(at), reader, what, archive_no, record_id, purpose),
            )
            seq = cursor.lastrowid
        if seq is None:
            raise RecordError("record_reads", "the read was not stored")
        return RecordRead(seq, from_ms(to_ms(at)), reader, what, archive_no, record_id, purpose)

    def reads(
        self,
        *,
        archive_no: str | None = None,
        reader: str | None = None,
        after_seq: int = 0,
        limit: int = 500,
    ) -> list[RecordRead]:
        """Reads in the order they happened, optionally of one person or by one reader."""
        query = "SELECT * FROM record_reads WHERE seq > ?"
        params: list[object] = [after_seq]
        if archive_no is not None:
            query += " AND archive_no = ?"
            params.append(archive_no)
        if reader is not None:
            query += " AND reader = ?"
            params.append(reader)
        query += " ORDER BY seq LIMIT ?"
        params.append(limit)
        with self.db.translated("read record reads"):
            rows = self.db.conn.execute(query, params).fetchall()
        return [RecordRead(seq, from_ms(ms), *rest) for seq, ms, *rest in rows]
