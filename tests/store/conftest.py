"""Fixtures for the store and recorder tests: a fresh store in a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.storage.readings import ReadingStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "readings.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[ReadingStore]:
    with ReadingStore(db_path) as opened:
        yield opened
