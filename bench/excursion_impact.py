"""Excursion impact on a full fridge: 10,000 packages in one compartment (1,000 of them moved
out and back), 30 days of one reading a minute from its probe.

Times (median of the repeats) for: the alarm hook (doses in the compartment now), what was in
the compartment at a past time, the exposure of a 3-hour excursion and of the whole 30 days,
the packages present during an excursion, recording an excursion (measure + quarantine), and
the quarantine check a dose scan pays. Run: python -m bench.excursion_impact [UNITS] [DAYS].
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.core.clock import FakeClock
from gateway.ledgers.excursion_service import ExcursionService
from gateway.settings import Settings, parse_settings
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.quarantine import held_refusal
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.readings import ReadingStore
from ledger.stability import ProductStability, StabilityTable
from probes.reading import ProbeStatus, Reading

PRODUCT = "8190067"
BATCH = "202512A01"
START = datetime(2026, 3, 1, tzinfo=UTC)
COLD, OTHER = "F1/冷藏", "F2/冷藏"
REPEATS = 5


def _settings(folder: Path) -> Settings:
    fridges = [
        {"code": code, "name": f"{code} 冰箱", "kind": "refrigerator",
         "compartments": [{"name": "冷藏", "kind": "refrigerated"}]}
        for code in ("F1", "F2")
    ]  # fmt: skip
    return parse_settings({
        "unit": {"code": "6101030203", "name": "基准门诊", "region_code": "610102"},
        "gateway": {"number": "10001", "data_dir": str(folder)},
        "buses": [{"name": "sim", "transport": "tcp", "host": "127.0.0.1", "port": 5020}],
        "fridges": fridges,
        "probes": [
            {"code": f"P{n}", "bus": "sim", "device_id": n, "profile": "rs485-th",
             "compartment": f"F{n}/冷藏"}
            for n in (1, 2)
        ],
    }, "bench")  # fmt: skip


def _timed(action: Callable[[], object]) -> float:
    samples = []
    for _ in range(REPEATS):
        begin = time.perf_counter()
        action()
        samples.append((time.perf_counter() - begin) * 1000)
    return statistics.median(samples)


def main(units: int = 10_000, days: int = 30) -> None:
    logging.getLogger("gateway.ledgers.excursion_service").setLevel(logging.ERROR)
    clock = FakeClock(START)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        settings = _settings(folder)
        with LedgerDB.in_folder(folder) as db, ReadingStore(folder / "r.sqlite3") as readings:
            codes = [f"{PRODUCT}{n:013d}" for n in range(units)]
            catalogue = Catalogue(db)
            catalogue.import_json(json.dumps({
                "products": [{"product_id": PRODUCT, "vaccine_code": "0201", "name": "乙肝疫苗",
                              "manufacturer_code": "M01", "form": "注射液",
                              "doses_per_vial": 1}],
                "batches": [{"product_id": PRODUCT, "batch_no": BATCH, "production_date":
                             "2025-12-01", "expiry_date": "2027-11-30", "lot_release_no": "SP1"}],
                "trace_codes": [{"trace_code": c, "product_id": PRODUCT, "batch_no": BATCH}
                                for c in codes],
            }))  # fmt: skip
            stock = StockLedger(db, catalogue, clock)
            stability = StabilityTable(products=[ProductStability(
                vaccine_code="0201", name="乙肝疫苗", allowed_hours_above=72, freeze_sensitive=True,
            )])  # fmt: skip
            service = ExcursionService(
                settings,
                clock,
                db,
                stock,
                readings=readings,
                stability=stability,
            )
            begin = time.perf_counter()
            with db.transaction("bench set-up"):
                for code in codes:
                    stock.receive(code, event_id=f"r-{code}", actor="bench")
                service.locations.place_batch(
                    PRODUCT, BATCH, COLD, packages=units, event_id="all", actor="bench"
                )
            setup_ledger = time.perf_counter() - begin
            clock.jump_wall(timedelta(days=1))
            service.locations.move(codes[:1000], OTHER, event_id="out", actor="bench")
            clock.jump_wall(timedelta(hours=1))
            service.locations.move(codes[:1000], COLD, event_id="back", actor="bench")
            minutes = days * 24 * 60
            begin = time.perf_counter()
            for first in range(0, minutes, 5000):
                readings.write_batch([
                    Reading("P1", START + timedelta(minutes=m), ProbeStatus.OK,
                            11.0 if minutes - 240 <= m < minutes - 60 else 5.0)
                    for m in range(first, min(first + 5000, minutes))
                ])  # fmt: skip
            setup_readings = time.perf_counter() - begin
            clock.jump_wall(START + timedelta(days=days) - clock.now())
            end = clock.now()
            excursion = (end - timedelta(hours=4), end - timedelta(minutes=60))
            count = iter(range(REPEATS))
            past = START + timedelta(days=1, minutes=30)
            rows = [
                ("doses in compartment now (alarm hook)",
                 _timed(lambda: service.locations.doses_in(COLD))),
                ("contents at a past time",
                 _timed(lambda: service.locations.contents(COLD, past))),
                ("exposure, 3 h excursion", _timed(lambda: service.measure(COLD, *excursion))),
                (f"exposure, whole {days} days",
                 _timed(lambda: service.measure(COLD, START, end))),
                ("packages present during excursion",
                 _timed(lambda: service.locations.present_during(COLD, *excursion))),
                ("record excursion (measure + quarantine)",
                 _timed(lambda: service.record(f"x{next(count)}", COLD, *excursion, "bench"))),
                ("load a recorded excursion", _timed(lambda: service.quarantine.excursion("x0"))),
                ("quarantine check of one dose scan", _timed(lambda: held_refusal(db, codes[-1]))),
            ]  # fmt: skip
            recorded = service.quarantine.excursion("x0")
            exposed = 0 if recorded is None else len(recorded.units)
    print(f"{units} packages, {minutes} readings; set-up: ledger {setup_ledger:.1f} s, "
          f"readings {setup_readings:.1f} s; packages exposed: {exposed}")  # fmt: skip
    print(f"{'query':<42}{'median ms':>12}")
    for what, millis in rows:
        print(f"{what:<42}{millis:>12.2f}")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
