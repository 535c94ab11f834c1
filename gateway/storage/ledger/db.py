"""The ledger's SQLite file (``ledger.sqlite3``): WAL, migrations by ``user_version``.

Same conventions as `gateway.storage.readings`: one connection in autocommit mode, explicit
``BEGIN IMMEDIATE`` transactions, times as whole milliseconds since the epoch (UTC), and every
sqlite3 error translated into `LedgerStoreError`. Ledger tables are append-only: nothing in
this package issues UPDATE or DELETE on ``stock_events`` or ``record_versions``; the upload
queue's state is the only mutable row set (its history is in ``upload_attempts``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.storage.registry import LEDGER
from gateway.storage.sqlite_file import FileBacked, SqliteFile
from ledger.errors import LedgerStoreError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise LedgerStoreError("time", "naive datetime: pass a timezone-aware time")
    return (moment - EPOCH) // _MS


def from_ms(millis: int) -> datetime:
    return EPOCH + timedelta(milliseconds=millis)


def _store_error(message: str) -> LedgerStoreError:
    return LedgerStoreError("ledger", message)


class LedgerDB(FileBacked):
    """One connection to the ledger file; use `transaction()` for every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = SqliteFile(
            path,
            what=LEDGER.what,
            migrations=LEDGER.migrations,
            synchronous="FULL",
            error=_store_error,
            integrity=_store_error,
        )
        self.conn = self._file.connection

    @classmethod
    def in_folder(cls, folder: Path) -> LedgerDB:
        return cls(LEDGER.path(folder))

    @contextmanager
    def translated(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise LedgerStoreError("ledger", f"{action} failed: {error}") from None

    @contextmanager
    def transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT; any exception rolls the whole change back."""
        if self.conn.in_transaction:
            yield self.conn  # nested: the outer transaction owns commit and rollback
            return
        with self.translated(action):
            self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except sqlite3.Error as error:
            self.conn.rollback()
            raise LedgerStoreError("ledger", f"{action} failed: {error}") from None
        except BaseException:
            self.conn.rollback()
            raise
        with self.translated(action):
            self.conn.execute("COMMIT")
