"""A ledger with the small shipment of tests/ledger imported, compartments to put it in, and a
fake clock; helpers to receive packages into a compartment and to record an excursion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway.core.clock import FakeClock
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.locations import StockLocations
from gateway.storage.ledger.quarantine import Excursion, Quarantine
from gateway.storage.ledger.stock import StockLedger
from ledger.exposure import Exposure, Sample, exposure
from ledger.stability import StabilityTable, load_stability
from tests.ledger.conftest import COVID, HEPB, SHIPMENT, START, code

COLD = "F1/冷藏"
SPARE = "F2/冷藏"
FROZEN = "F1/冷冻"
COMPARTMENTS = (COLD, SPARE, FROZEN)
STABILITY_FILE = Path(__file__).parents[2] / "config" / "stability.toml"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[LedgerDB]:
    with LedgerDB.in_folder(tmp_path) as database:
        yield database


@pytest.fixture
def stock(db: LedgerDB, clock: FakeClock) -> StockLedger:
    catalogue = Catalogue(db)
    catalogue.import_json(json.dumps(SHIPMENT))
    return StockLedger(db, catalogue, clock)


@pytest.fixture
def locations(db: LedgerDB, stock: StockLedger) -> StockLocations:
    return StockLocations(db, stock, COMPARTMENTS)


@pytest.fixture
def stability() -> StabilityTable:
    return load_stability(STABILITY_FILE)


@pytest.fixture
def quarantine(
    db: LedgerDB, stock: StockLedger, locations: StockLocations, stability: StabilityTable
) -> Quarantine:
    return Quarantine(db, stock, locations, stability)


def receive(locations: StockLocations, codes: list[str], compartment: str = COLD) -> None:
    for item in codes:
        locations.receive_into(item, compartment, event_id=f"in-{item}", actor="王芳")


def warm_for(start: datetime, minutes: int, celsius: float) -> list[Sample]:
    """One reading a minute at `celsius` for `minutes`, then one back at 5 °C."""
    samples = [Sample(start + timedelta(minutes=m), celsius) for m in range(minutes)]
    return [*samples, Sample(start + timedelta(minutes=minutes), 5.0)]


def record_warm(
    quarantine: Quarantine, excursion_id: str, start: datetime, minutes: int,
    celsius: float = 12.0, source: str = "test",
) -> Excursion:  # fmt: skip
    """Record an excursion of `minutes` at `celsius` in the cold compartment."""
    samples = warm_for(start, minutes, celsius)
    end = start + timedelta(minutes=minutes)
    by_thresholds: dict[tuple[float, float], Exposure] = {
        pair: exposure(samples, pair[0], pair[1], start, end)
        for pair in quarantine.stability.thresholds()
    }
    return quarantine.record(
        excursion_id, COLD, start, end, source=source,
        exposure=exposure(samples, 2.0, 8.0, start, end), by_thresholds=by_thresholds,
    )  # fmt: skip


def hepb(n: int) -> str:
    return code(HEPB, n)


def covid(n: int) -> str:
    return code(COVID, n)
