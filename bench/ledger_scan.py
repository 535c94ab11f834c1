"""Scan → ledger commit latency: receive and administer, one transaction per scan.

Run: python -m bench.ledger_scan [N]. Prints a plain table (milliseconds).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.core.clock import FakeClock
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.stock import StockLedger

PRODUCT = "8190067"


def main(count: int = 2000) -> None:
    with tempfile.TemporaryDirectory() as folder, LedgerDB.in_folder(Path(folder)) as db:
        catalogue = Catalogue(db)
        catalogue.import_json(json.dumps({
            "products": [{"product_id": PRODUCT, "vaccine_code": "0201", "name": "乙肝疫苗",
                          "manufacturer_code": "M01", "form": "注射液", "doses_per_vial": 1}],
            "batches": [{"product_id": PRODUCT, "batch_no": "202512A01",
                         "production_date": "2025-12-01", "expiry_date": "2027-11-30",
                         "lot_release_no": "SP1"}],
            "trace_codes": [{"trace_code": f"{PRODUCT}{n:013d}", "product_id": PRODUCT,
                             "batch_no": "202512A01"} for n in range(count)],
        }))  # fmt: skip
        stock = StockLedger(db, catalogue, FakeClock(datetime(2026, 3, 2, 1, tzinfo=UTC)))
        rows = []
        for kind in ("receive", "administer"):
            action = getattr(stock, kind)
            samples = []
            for n in range(count):
                raw = f"{PRODUCT}{n:013d}\r\n".encode()
                start = time.perf_counter()
                action(raw, event_id=f"{kind}{n}", actor="bench")
                samples.append((time.perf_counter() - start) * 1000)
            cuts = statistics.quantiles(samples, n=100)
            rows.append((kind, count, cuts[49], cuts[98], max(samples)))
    print(f"{'operation':<12}{'scans':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for kind, n, p50, p99, top in rows:
        print(f"{kind:<12}{n:>8}{p50:>10.2f}{p99:>10.2f}{top:>10.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
