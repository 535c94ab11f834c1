"""The duplicate-person check (重卡) per registration, on a ledger already holding many people.

Run: python -m bench.ledger_registration [N]. Registers N people (distinct ID numbers, a tenth of
them infants without one, found by name + birth date + mother), then times 1,000 more
registrations and 1,000 look-ups alone (`VaccinationLedger.find_archive`), and 1,000 refused
duplicates. Prints a plain table (microseconds per registration).
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from gateway.core.clock import FakeClock
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.ledger.vaccinations import VaccinationLedger
from ledger.errors import DuplicatePersonError
from ledger.idcard import PLACEHOLDER, check_digit
from ledger.tables import load_tables
from ledger.vaccination_records import Recipient

UNIT = "6101030203"
BASE = Recipient(
    "", "张三", "2", date(1980, 1, 1), "", "13812345678", "西安市新城区西一路1号", "29",
    "610102", "610102001", "20", "16",
)  # fmt: skip


def person(n: int) -> Recipient:
    born = date(1950, 1, 1) + timedelta(days=n % 20_000)
    if n % 10 == 0:  # an infant without an ID number
        return dataclasses.replace(
            BASE, archive_no=f"A{n:09d}", name=f"宝宝{n}", birth_date=date(2026, 1, 1),
            id_number=PLACEHOLDER, mother_name=f"妈妈{n}", marital_status="10",
        )  # fmt: skip
    first17 = f"110105{born:%Y%m%d}{(n // 20_000) * 2 % 1000:03d}"
    return dataclasses.replace(
        BASE, archive_no=f"A{n:09d}", birth_date=born, id_number=first17 + check_digit(first17)
    )


def main(count: int = 20_000) -> None:
    with tempfile.TemporaryDirectory() as folder, LedgerDB.in_folder(Path(folder)) as db:
        clock = FakeClock(datetime(2026, 3, 2, 1, tzinfo=UTC))
        stock = StockLedger(db, Catalogue(db), clock, unit_code=UNIT)
        ledger = VaccinationLedger(db, stock, load_tables(), clock, UNIT)
        for n in range(count):
            ledger.register(person(n), actor="bench")
        probes = [person(count + n) for n in range(1_000)]
        t0 = time.perf_counter()
        for probe in probes:
            ledger.find_archive(probe)
        t1 = time.perf_counter()
        for probe in probes:
            ledger.register(probe, actor="bench")
        t2 = time.perf_counter()
        refused = 0
        for n in range(1_000):
            again = dataclasses.replace(person(n * 7), archive_no=f"B{n:09d}")
            try:
                ledger.register(again, actor="bench")
            except DuplicatePersonError:
                refused += 1
        t3 = time.perf_counter()
    print(f"{'step':<28}{'people':>8}{'us each':>10}")
    print(f"{'look-up (重卡 check)':<26}{count:>8}{(t1 - t0) * 1000:>10.0f}")
    print(f"{'registration with check':<28}{count:>8}{(t2 - t1) * 1000:>10.0f}")
    print(f"{'duplicate refused':<28}{count:>8}{(t3 - t2) * 1000:>10.0f}  ({refused}/1000)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
