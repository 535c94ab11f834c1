"""Whole-file operations on a store for backup, restore and `coldchain status`: copy a live
file, check and count it, see whether another process has it open.

Nothing here migrates or writes a store in place; `inspect` opens read-only.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.core.errors import StoreError

# The WAL-index dead-man-switch byte: every connection to a WAL database holds a shared POSIX
# lock on byte 128 of its -shm file while it is open (SQLite's "WAL-mode file format", 2.3).
_DMS_BYTE = 128


@dataclass(frozen=True, slots=True)
class FileReport:
    """What a store file holds: its schema version, row counts, and what an integrity check
    found wrong (empty when sound, or when not checked)."""

    schema_version: int
    rows: dict[str, int]
    problems: list[str]


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection (no migration, no write); errors become StoreError."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as conn:
            yield conn
    except sqlite3.Error as error:
        raise StoreError(
            f"{path}: cannot read the store ({error}); fix: run as the gateway's user"
            " (sudo -u coldchain ...), or check the file"
        ) from None


def inspect(path: Path, tables: Sequence[str] | None = None, *, check: bool = True) -> FileReport:
    """Schema version and row counts of `tables` (every table when None) of `path`, and with
    `check` SQLite's integrity check. Read-only; a table the file lacks counts 0."""
    with read_only(path) as conn:
        problems = []
        if check:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if problems == ["ok"]:
                problems = []
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        present = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"
            )
        ]
        wanted = present if tables is None else list(tables)
        rows = {
            table: int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608
            if table in present
            else 0
            for table in wanted
        }
    return FileReport(version, rows, problems)


def copy_live(source: Path, target: Path) -> None:
    """One consistent copy of a live store (SQLite backup API, all pages in one step).

    A full disk raises OSError(ENOSPC), like any other write; other failures StoreError."""
    try:
        with (
            contextlib.closing(sqlite3.connect(source)) as live,
            contextlib.closing(sqlite3.connect(target)) as copy,
        ):
            live.backup(copy)
    except sqlite3.OperationalError as error:
        if "disk is full" in str(error):
            raise OSError(errno.ENOSPC, f"{target}: {error}") from None
        raise StoreError(
            f"{source}: cannot copy the store ({error}); fix: check the file"
        ) from None
    except sqlite3.Error as error:
        raise StoreError(
            f"{source}: cannot copy the store ({error}); fix: check the file"
        ) from None


def in_use(path: Path) -> bool:
    """Whether another process has this WAL database open (its -shm dead-man byte is locked).

    POSIX locks do not conflict within one process: this sees other processes only."""
    shm = path.with_name(path.name + "-shm")
    try:
        fd = os.open(shm, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _DMS_BYTE)
    except OSError as error:
        if error.errno in (errno.EACCES, errno.EAGAIN):
            return True
        raise
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, _DMS_BYTE)
    finally:
        os.close(fd)
    return False
