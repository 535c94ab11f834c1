"""The forwarder tests' store; the real servers come from tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.storage.readings import ReadingStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ReadingStore]:
    with ReadingStore(tmp_path / "data" / "readings.sqlite3") as opened:
        yield opened
