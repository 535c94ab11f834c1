"""The hold check on the vaccination path: per administer scan, where the package has been and
whether one of those compartments is on hold (`ledger.holds`), with 50 open alarms elsewhere
in the unit.

Run: python -m bench.hold_check [N]. Prints a plain table (milliseconds): the check alone, and
an administer scan with and without holds wired.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from alerts.escalation_state import Alarm, EscalationState
from alerts.model import Condition, ConditionKind
from gateway.core.clock import FakeClock
from gateway.ledgers.excursion_service import ExcursionService
from gateway.settings import Settings, parse_settings
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.readings import ReadingStore
from ledger.stability import StabilityTable

PRODUCT = "8190067"
T0 = datetime(2026, 3, 2, 1, tzinfo=UTC)
FRIDGES = 26  # F0..F25, two compartments each


def _settings(folder: Path) -> Settings:
    return parse_settings(
        {
            "unit": {"code": "6101030203", "name": "bench", "region_code": "610102"},
            "gateway": {"number": "1", "data_dir": str(folder)},
            "fridges": [
                {"code": f"F{n}", "name": f"冰箱{n}", "kind": "refrigerator",
                 "compartments": [{"name": "冷藏", "kind": "refrigerated"},
                                  {"name": "冷冻", "kind": "frozen"}]}
                for n in range(FRIDGES)
            ],
        },
        "bench",
    )  # fmt: skip


def _alarms() -> EscalationState:
    """50 open alarms, none on F0/冷藏 where the doses are given."""
    alarms = {}
    for n in range(1, FRIDGES):
        for name, kind in (("冷藏", ConditionKind.TOO_WARM), ("冷冻", ConditionKind.PROBE_FAULT)):
            condition = Condition(kind, f"F{n}/{name}", f"p{n}")
            alarm = Alarm(f"{condition.key}@{T0.isoformat()}~{len(alarms)}", condition, T0, T0)
            alarms[alarm.id] = alarm
    return EscalationState("6101030203", alarms=alarms)


def main(count: int = 2000) -> None:
    with tempfile.TemporaryDirectory() as name, LedgerDB.in_folder(Path(name)) as db:
        folder = Path(name)
        catalogue = Catalogue(db)
        catalogue.import_json(json.dumps({
            "products": [{"product_id": PRODUCT, "vaccine_code": "0201", "name": "乙肝疫苗",
                          "manufacturer_code": "M01", "form": "注射液", "doses_per_vial": 1}],
            "batches": [{"product_id": PRODUCT, "batch_no": "202512A01",
                         "production_date": "2025-12-01", "expiry_date": "2027-11-30",
                         "lot_release_no": "SP1"}],
            "trace_codes": [{"trace_code": f"{PRODUCT}{n:013d}", "product_id": PRODUCT,
                             "batch_no": "202512A01"} for n in range(2 * count)],
        }))  # fmt: skip
        clock = FakeClock(T0)
        stock = StockLedger(db, catalogue, clock)
        state = _alarms()
        with ReadingStore(folder / "r.sqlite3") as readings:
            service = ExcursionService(
                _settings(folder), clock, db, stock, readings=readings,
                stability=StabilityTable(), alarm_state=lambda: state,
            )  # fmt: skip
            codes = [f"{PRODUCT}{n:013d}" for n in range(2 * count)]
            for n, code in enumerate(codes):
                service.locations.receive_into(code, "F0/冷藏", event_id=f"in{n}", actor="bench")
            check, held, plain = [], [], []
            stock.holds = service.hold_on
            for code in codes[:count]:
                start = time.perf_counter()
                stock.check_package_hold(code, "administering", event_id="bench", actor="bench")
                check.append((time.perf_counter() - start) * 1000)
            for samples, part in ((held, codes[:count]), (plain, codes[count:])):
                stock.holds = service.hold_on if samples is held else None
                for n, code in enumerate(part):
                    start = time.perf_counter()
                    stock.administer(code, event_id=f"dose{code}{n}", actor="bench")
                    samples.append((time.perf_counter() - start) * 1000)
    print(f"{'what':<34}{'scans':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for what, samples in (
        ("hold check alone (50 open alarms)", check),
        ("administer, holds wired", held),
        ("administer, no holds", plain),
    ):
        cuts = statistics.quantiles(samples, n=100)
        print(f"{what:<34}{len(samples):>8}{cuts[49]:>10.3f}{cuts[98]:>10.3f}{max(samples):>10.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
