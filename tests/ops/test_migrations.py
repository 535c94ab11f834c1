"""Upgrades: a store written by any earlier schema version opens with the current code and
keeps every row; a store from a newer version is refused.

The stores are the registry's (`gateway.storage.registry.STORES`): a new store is tested here
by its entry alone. The earlier schemas are rebuilt from the prefixes of each store's
migrations (what every earlier release ran), filled with rows in every table, then opened by
the store's own class.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from gateway.core.errors import GatewayError
from gateway.storage.registry import STORES, Store
from ledger.errors import LedgerError
from probes.reading import STATUS_CODES, ProbeStatus

# Values a CHECK constraint needs; everything else is made up from the column's type.
REQUIRED = {("readings", "status"): STATUS_CODES[ProbeStatus.OK], ("manual_readings", "half"): "am"}
ROWS_PER_TABLE = 3

BY_NAME = {store.name: store for store in STORES}
EARLIER = [(store.name, version) for store in STORES for version in range(store.schema_version)]


def value_for(table: str, column: str, kind: str, row: int) -> object:
    if (table, column) in REQUIRED:
        return REQUIRED[table, column]
    kind = kind.upper()
    if "INT" in kind:
        return row + 1
    if "REAL" in kind:
        return row + 0.25
    if "BLOB" in kind:
        return f"{table}.{column}.{row}".encode()
    return f"{table}.{column}.{row}"


def build_version(path: Path, migrations: Sequence[Sequence[str]], version: int) -> None:
    """A file as release `version` left it: its migrations run, then rows in every table."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        for statements in migrations[:version]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={version}")
        for table in user_tables(conn):
            columns = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
            names = ", ".join(f'"{column[1]}"' for column in columns)
            marks = ", ".join("?" for _ in columns)
            conn.executemany(
                f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                [
                    [value_for(table, column[1], column[2], row) for column in columns]
                    for row in range(ROWS_PER_TABLE)
                ],
            )


def user_tables(conn: sqlite3.Connection) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]


def contents(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        found = {}
        for table in user_tables(conn):
            found[table] = conn.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2').fetchall()
        return found


@pytest.mark.parametrize(("name", "version"), EARLIER)
def test_every_earlier_schema_upgrades_without_losing_rows(
    tmp_path: Path, name: str, version: int
) -> None:
    store = BY_NAME[name]
    path = store.path(tmp_path)
    build_version(path, store.migrations, version)
    before = contents(path)
    assert sum(len(rows) for rows in before.values()) == ROWS_PER_TABLE * len(before)
    with store.open(path):
        pass
    after = contents(path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store.schema_version
    for table, rows in before.items():
        width = len(rows[0])
        kept = [row[:width] for row in after[table]]
        assert [row for row in rows if row not in kept] == [], table


@pytest.mark.parametrize("store", STORES, ids=lambda store: store.name)
def test_a_store_from_a_newer_version_is_refused(tmp_path: Path, store: Store) -> None:
    path = store.path(tmp_path)
    build_version(path, store.migrations, store.schema_version)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version={store.schema_version + 1}")
    before = contents(path)
    with pytest.raises((GatewayError, LedgerError), match="newer than this gateway"):
        store.open(path)
    assert contents(path) == before
