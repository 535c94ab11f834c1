"""Fixtures: a ledger in a temp dir with a small shipment imported, and a fake clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.core.clock import FakeClock
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.stock import StockLedger
from ledger.tables import ReferenceTables, load_tables

# 2026-03-02 09:00 in China
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
HEPB = "8190067"  # 乙肝, 1 dose per vial, 3-dose schedule
COVID = "8190078"  # 新冠 CHO, 2 doses per vial (multi-dose), 3-dose schedule
HEPB_BATCH = "202512A01"
OLD_BATCH = "202401B07"
COVID_BATCH = "C20260104"
UNIT = "6101030203"  # this clinic: a township vaccinating unit
COUNTY_CDC = "6101030000"  # its upper level
PEER = "6101030204"  # another clinic of the same level
VILLAGE = "6101030301"  # a village vaccination point below it
CITY_CDC = "6101000000"
UNITS_CSV = f"""unit_code,name,level,vaccinating
{CITY_CDC},西安市疾控中心,city,0
{COUNTY_CDC},新城区疾控中心,county,0
6101040000,碑林区疾控中心,county,0
{UNIT},演示预防接种门诊,township,1
{PEER},第二预防接种门诊,township,1
{VILLAGE},村卫生室,village,1
"""


def code(product: str, n: int) -> str:
    return f"{product}{n:013d}"


SHIPMENT = {
    "products": [
        {"product_id": HEPB, "vaccine_code": "0201", "name": "乙肝疫苗", "manufacturer_code": "M01",
         "form": "注射液", "doses_per_vial": 1},
        {"product_id": COVID, "vaccine_code": "5603", "name": "新冠疫苗(CHO)",
         "manufacturer_code": "M13", "form": "注射液", "doses_per_vial": 2, "open_life_hours": 6,
         "gtin": "06901234567892"},
    ],
    "batches": [
        {"product_id": HEPB, "batch_no": HEPB_BATCH, "production_date": "2025-12-01",
         "expiry_date": "2027-11-30", "lot_release_no": "SP20250001"},
        {"product_id": HEPB, "batch_no": OLD_BATCH, "production_date": "2024-01-01",
         "expiry_date": "2026-03-01", "lot_release_no": "SP20240007"},
        {"product_id": COVID, "batch_no": COVID_BATCH, "production_date": "2026-01-04",
         "expiry_date": "2027-01-03", "lot_release_no": "SP20260004"},
    ],
    "trace_codes": [
        *({"trace_code": code(HEPB, n), "product_id": HEPB, "batch_no": HEPB_BATCH}
          for n in range(1, 21)),
        {"trace_code": code(HEPB, 99), "product_id": HEPB, "batch_no": OLD_BATCH},
        *({"trace_code": code(COVID, n), "product_id": COVID, "batch_no": COVID_BATCH}
          for n in range(1, 11)),
    ],
}  # fmt: skip


@pytest.fixture
def tables() -> ReferenceTables:
    return load_tables()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[LedgerDB]:
    with LedgerDB.in_folder(tmp_path) as database:
        yield database


@pytest.fixture
def catalogue(db: LedgerDB) -> Catalogue:
    cat = Catalogue(db)
    cat.import_json(json.dumps(SHIPMENT))
    return cat


@pytest.fixture
def stock(db: LedgerDB, catalogue: Catalogue, clock: FakeClock) -> StockLedger:
    ledger = StockLedger(db, catalogue, clock, unit_code=UNIT)
    ledger.units.import_csv(UNITS_CSV)
    return ledger
