"""Hypothesis profiles, the `property` marker, and the real servers any test may need.

Property tests are deterministic in `make test`: the `ci` profile (the default) derandomizes
(a fixed seed per test, no example database) and has no deadline. `make fuzz` selects the
`fuzz` profile (`--hypothesis-profile=fuzz`): fresh seeds, more examples, and the failures it
finds kept in the local example database (`.hypothesis/`, replayed by the next fuzz run) until
each has become a plain regression test beside its property.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, is_hypothesis_test, settings

from tests.servers import Influxd, Mosquitto, VictoriaMetrics

# No deadline in either: a test's speed on a busy machine is not its result.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile(
    "fuzz",
    derandomize=False,
    max_examples=1_000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every hypothesis test `property`, so `make fuzz` can select them all."""
    for item in items:
        if is_hypothesis_test(getattr(item, "obj", None)):
            item.add_marker(pytest.mark.property)


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
