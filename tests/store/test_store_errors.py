"""ReadingStore refuses bad states with a StoreError that names the file and the fix."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from gateway.core.errors import StoreError
from gateway.storage.readings import ReadingStore

from .support import T0, series


def test_a_closed_store_refuses_every_call(store: ReadingStore, db_path: Path) -> None:
    store.close()
    store.close()
    calls: list[tuple[str, tuple[object, ...]]] = [
        ("write_batch", (series(1),)),
        ("readings", ()),
        ("readings_after", (0, 1)),
        ("count", ()),
        ("set_meta", ("k", "v")),
        ("prune", (T0,)),
    ]
    for name, args in calls:
        with pytest.raises(StoreError, match="closed") as caught:
            getattr(store, name)(*args)
        assert str(db_path) in str(caught.value)


def test_garbage_file_is_refused_with_path_and_fix(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not sqlite, just bytes\x00\xff" * 200)
    with pytest.raises(StoreError) as caught:
        ReadingStore(db_path)
    message = str(caught.value)
    assert str(db_path) in message
    assert "not a database" in message
    assert "fix: stop the gateway, move the file" in message


def test_damaged_pages_are_caught_at_startup(db_path: Path) -> None:
    with ReadingStore(db_path) as store:
        store.write_batch(series(3000, probes=20))
        store.checkpoint()
    data = bytearray(db_path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    data[5 * page : 7 * page] = bytes(range(256)) * (2 * page // 256)
    db_path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as caught:
        ReadingStore(db_path)
    assert str(db_path) in str(caught.value)
    assert "move" in str(caught.value)


def test_a_folder_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    path = blocker / "readings.db"
    with pytest.raises(StoreError, match="cannot create the store's folder or file") as caught:
        ReadingStore(path)
    assert str(path) in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files anyway")
def test_a_read_only_file_is_refused(store: ReadingStore, db_path: Path) -> None:
    store.close()
    for file in db_path.parent.iterdir():
        file.chmod(0o444)
    db_path.parent.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="writable") as caught:
            ReadingStore(db_path).write_batch(series(1))
        assert str(db_path) in str(caught.value)
    finally:
        db_path.parent.chmod(0o755)


def test_a_schema_from_a_newer_gateway_is_refused(store: ReadingStore, db_path: Path) -> None:
    store.close()
    raw = sqlite3.connect(db_path)
    raw.execute("PRAGMA user_version=99")
    raw.close()
    with pytest.raises(StoreError, match="newer than this gateway") as caught:
        ReadingStore(db_path)
    assert str(db_path) in str(caught.value)
