"""Who changed what through the web: one row per state-changing request, in audit.sqlite3.

The middleware appends an entry after each POST/PUT/PATCH/DELETE (method, path, user, status,
a short summary); handlers say what happened in words with `gateway.web.audit_note.note`,
sign-in says who tried and how it went. Entries never hold passwords or tokens: the summary is
written by the gateway, never copied from a request body, and the path carries no query string.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway.core.clock import Clock
from gateway.core.errors import StoreError
from gateway.storage.registry import AUDIT
from gateway.storage.sqlite_file import FileBacked, SqliteFile, Synchronous
from ledger.masking import Shown

MAX_ENTRIES = 1000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    method: str
    path: str
    user: str | None
    status: int
    summary: str

    def to_json(self, shown: Shown) -> dict[str, object]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "method": self.method,
            "path": shown.text(self.path),
            "user": self.user,
            "status": self.status,
            "summary": shown.text(self.summary),
        }


class AuditLog(FileBacked):
    def __init__(self, path: Path, clock: Clock, *, synchronous: Synchronous = "NORMAL") -> None:
        self._file = SqliteFile(
            path, what=AUDIT.what, migrations=AUDIT.migrations, synchronous=synchronous
        )
        self.clock = clock

    def append(
        self, method: str, path: str, user: str | None, status: int, summary: str
    ) -> AuditEntry:
        at = self.clock.now()
        with self._file.transaction("append to") as conn:
            cursor = conn.execute(
                "INSERT INTO audit (at, method, path, user, status, summary)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (at.timestamp(), method, path, user, status, summary),
            )
        entry_id = cursor.lastrowid
        if entry_id is None:
            raise StoreError(f"{self._file.path}: the audit log did not number an entry")
        return AuditEntry(entry_id, at, method, path, user, status, summary)

    def entries(self, limit: int = 100, before: int | None = None) -> list[AuditEntry]:
        """The newest entries first; `before` pages back from an entry id."""
        rows = self._file.fetch(
            "SELECT id, at, method, path, user, status, summary FROM audit"
            " WHERE id < ? ORDER BY id DESC LIMIT ?",
            (2**63 - 1 if before is None else before, min(limit, MAX_ENTRIES)),
        )
        return [AuditEntry(row[0], datetime.fromtimestamp(row[1], UTC), *row[2:]) for row in rows]
