"""Real servers for any test that needs one: started on free loopback ports in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import Influxd, Mosquitto, VictoriaMetrics


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics.create(tmp_path / "vm")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[Influxd]:
    server = Influxd.create(tmp_path / "influxd")
    server.start()
    server.create_db("coldchain")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto.create(tmp_path / "mosquitto")
    server.start()
    try:
        yield server
    finally:
        server.stop()
