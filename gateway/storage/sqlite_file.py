"""One SQLite file as the gateway keeps them: WAL, checked at open, migrated forward.

The readings store, the alarm store and the ledger each own a file; this is the part they
share: opening (creating the folder), WAL and `synchronous`, a quick check that the file is
sound, forward-only migrations on `user_version`, short transactions, and sqlite3 errors
translated into the caller's exception class with the file, the action and a fix named.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from gateway.core.closing import Closing
from gateway.core.errors import StoreError

Synchronous = Literal["NORMAL", "FULL"]
Migrations = Sequence[Sequence[str]]
ErrorFactory = Callable[[str], Exception]


FOLDER_MODE, FILE_MODE = 0o750, 0o640


def private_folder(folder: Path) -> None:
    """`folder` 0750 whatever the umask (created when missing, tightened when looser): stores
    hold password hashes, personal data and valid ack links."""
    if not folder.exists():
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        folder.chmod(FOLDER_MODE)
    _tighten(folder, FOLDER_MODE)


def private_file(path: Path) -> None:
    """`path` 0640 whatever the umask (created empty when missing, tightened when looser);
    SQLite gives the -wal and -shm files the mode of the database file."""
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        _tighten(path, FILE_MODE)
        return
    try:
        os.fchmod(descriptor, FILE_MODE)
    finally:
        os.close(descriptor)


def _tighten(path: Path, allowed: int) -> None:
    """Take away the permission bits beyond `allowed`, on what this user owns."""
    status = path.stat()
    if status.st_mode & 0o777 & ~allowed and status.st_uid == os.geteuid():
        path.chmod(status.st_mode & allowed)


def _fix(error: sqlite3.Error) -> str:
    text = str(error)
    if "not a database" in text or "malformed" in text:
        return (
            "stop the gateway, move the file and its -wal/-shm files aside for analysis and"
            " restart to create a new one"
        )
    if "readonly" in text or "unable to open" in text or "permission" in text:
        return "make the file and its folder writable by the gateway's user"
    if "disk" in text and "full" in text:
        return "free space on the data partition"
    return "check the file, its folder and the disk; the error above says what SQLite saw"


class SqliteFile(Closing):
    """An open database file. `what` names it in messages ("the store", "the alarm store")."""

    def __init__(
        self,
        path: Path,
        *,
        what: str,
        migrations: Migrations,
        synchronous: Synchronous = "NORMAL",
        error: ErrorFactory = StoreError,
        integrity: ErrorFactory | None = None,
        page_size: int | None = None,
    ) -> None:
        """`error` makes the owner's exception from a message; `integrity` is used instead
        when a constraint rejects a write. `page_size` applies to a new file only (SQLite
        fixes it at creation in WAL mode)."""
        self.path = path
        self.what = what
        self._error = error
        self._integrity = integrity
        self._conn: sqlite3.Connection | None = None
        try:
            private_folder(path.parent)
            private_file(path)
        except OSError as failure:
            raise error(
                f"{path}: cannot create {what}'s folder or file ({failure.strerror}); fix: "
                f"make {path.parent} a writable folder or choose another gateway.data_dir"
            ) from None
        with self.translated("open"):
            self._conn = sqlite3.connect(path, isolation_level=None)
        try:
            self._prepare(synchronous, page_size)
            self._migrate(migrations)
        except BaseException:
            self.close()
            raise

    def _prepare(self, synchronous: Synchronous, page_size: int | None) -> None:
        conn = self.connection
        with self.translated("open"):
            if page_size is not None and conn.execute("PRAGMA page_count").fetchone()[0] == 0:
                conn.execute(f"PRAGMA page_size={int(page_size)}")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute("PRAGMA journal_size_limit=8388608")
            problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
        if mode != "wal":
            raise self._error(
                f"{self.path}: SQLite refused WAL mode (journal_mode={mode}); fix: put the data"
                " directory on a local filesystem that supports shared memory (not NFS)"
            )
        if problems != ["ok"]:
            raise self._error(
                f"{self.path}: {self.what} is damaged (quick_check: {'; '.join(problems[:5])});"
                " fix: stop the gateway, move this file and its -wal/-shm files aside for"
                " analysis (sqlite3 FILE '.recover' can salvage rows) and restart to create a"
                " new one"
            )

    def _migrate(self, migrations: Migrations) -> None:
        conn = self.connection
        with self.translated("migrate"):
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(migrations):
            raise self._error(
                f"{self.path}: schema version {version} of {self.what} is newer than this "
                f"gateway's {len(migrations)}; fix: upgrade the gateway software (do not "
                "downgrade it)"
            )
        for target in range(version + 1, len(migrations) + 1):
            with self.transaction("migrate") as transaction:
                for statement in migrations[target - 1]:
                    transaction.execute(statement)
                transaction.execute(f"PRAGMA user_version={target}")

    @property
    def connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise self._error(f"{self.path}: {self.what} is closed; fix: open it again")
        return self._conn

    def fetch(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        conn = self.connection
        with self.translated("read"):
            return conn.execute(sql, params).fetchall()

    @contextmanager
    def transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        conn = self.connection
        with self.translated(action):
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def translated(self, action: str) -> Iterator[None]:
        """sqlite3 errors become the owner's error naming the file, the action and a fix."""
        try:
            yield
        except sqlite3.IntegrityError as error:
            if self._integrity is None:
                raise self._error(
                    f"{self.path}: cannot {action} {self.what}: {error}; fix: {_fix(error)}"
                ) from error
            raise self._integrity(
                f"{self.path}: cannot {action} {self.what}: {error}; fix: the write was"
                " rejected whole and changed nothing; correct the offending values"
            ) from error
        except sqlite3.Error as error:
            raise self._error(
                f"{self.path}: cannot {action} {self.what}: {error}; fix: {_fix(error)}"
            ) from error

    def close(self) -> None:
        """Close the connection (idempotent); later calls raise the owner's error."""
        if self._conn is not None:
            with self.translated("close"):
                self._conn.close()
            self._conn = None


class FileBacked(Closing):
    """For a class that owns one `SqliteFile` as `_file`: closing, and `with` support."""

    _file: SqliteFile

    def close(self) -> None:
        """Close the file (idempotent); later calls raise the owner's error."""
        self._file.close()
