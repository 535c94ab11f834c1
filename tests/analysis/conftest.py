"""A real influxd loaded once per module with October 2026 from `dataset` (batched /write)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.analysis import dataset
from tests.servers import Influxd, http

DB = "coldchain"


def load(server: Influxd, db: str, lines: Iterator[str], batch: int = 10_000) -> int:
    count = 0
    while chunk := list(itertools.islice(lines, batch)):
        status, body = http(
            "POST",
            f"{server.url}/write?db={db}&precision=ms",
            "\n".join(chunk).encode(),
            timeout=60,
        )
        assert status == 204, body
        count += len(chunk)
    return count


@pytest.fixture(scope="module")
def loaded_influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    folder: Path = tmp_path_factory.mktemp("influxd")
    server = Influxd.create(folder)
    server.start()
    try:
        server.create_db(DB)
        load(server, DB, dataset.lines())
        yield server
    finally:
        server.stop()
