"""Build and XSD-validate the upload XML of 10,000 records.

Run: python -m bench.ledger_upload [N]. Prints a plain table.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime, timedelta

from ledger.upload_xml import build, schema, validate
from ledger.vaccination_records import DoseRecord, Recipient


def records(count: int) -> list[DoseRecord]:
    person = Recipient("610103202600001", "张三", "2", date(1949, 12, 31), "11010519491231002X",
                       "13812345678", "西安市新城区西一路1号", "29", "610102", "610102001", "20",
                       "16", archive_unit="6101030203", management_unit="6101030203",
                       management_start=date(2026, 3, 1), updated_unit="6101030203",
                       updated_at=datetime(2026, 3, 1, tzinfo=UTC))  # fmt: skip
    start = datetime(2026, 3, 2, 1, tzinfo=UTC)
    return [
        DoseRecord(
            f"R{n}",
            1,
            "01",
            person,
            "0201",
            "M01",
            "202512A01",
            f"8190067{n:013d}",
            1,
            start + timedelta(seconds=n),
            "1",
            "李医生",
            "01",
            "01",
            "6101030203",
            start + timedelta(seconds=n),
        )
        for n in range(count)
    ]


def main(count: int = 10_000) -> None:
    items = records(count)
    schema()  # load the XSD outside the timing
    t0 = time.perf_counter()
    document = build(items)
    t1 = time.perf_counter()
    validate(document)
    t2 = time.perf_counter()
    print(f"{'step':<10}{'records':>9}{'seconds':>10}{'MB':>8}")
    print(f"{'build':<10}{count:>9}{t1 - t0:>10.2f}{len(document) / 1e6:>8.1f}")
    print(f"{'validate':<10}{count:>9}{t2 - t1:>10.2f}{'':>8}")
    print(f"{'total':<10}{count:>9}{t2 - t0:>10.2f}{'':>8}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
