"""Build and XSD-validate the upload XML of 10,000 dose records and 10,000 circulation events
(2,500 each of receipts, issues, returns and scraps, one document per kind as sent).

Run: python -m bench.ledger_upload [N]. Prints a plain table.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime, timedelta

from ledger import circulation_xml
from ledger.circulation_xml import CirculationEvent
from ledger.upload_xml import build, schema, validate
from ledger.vaccination_records import DoseRecord, Recipient

START = datetime(2026, 3, 2, 1, tzinfo=UTC)


def records(count: int) -> list[DoseRecord]:
    person = Recipient("610103202600001", "张三", "2", date(1949, 12, 31), "11010519491231002X",
                       "13812345678", "西安市新城区西一路1号", "29", "610102", "610102001", "20",
                       "16", archive_unit="6101030203", management_unit="6101030203",
                       management_start=date(2026, 3, 1), updated_unit="6101030203",
                       updated_at=datetime(2026, 3, 1, tzinfo=UTC))  # fmt: skip
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
            START + timedelta(seconds=n),
            "1",
            "李医生",
            "01",
            "01",
            "6101030203",
            START + timedelta(seconds=n),
        )
        for n in range(count)
    ]


TO_UNIT = {"issue": "6101030301", "return": "6101030000"}  # a village point, the county CDC


def circulation(kind: str, count: int) -> list[CirculationEvent]:
    approver = "县疾控" if kind in {"return", "scrap"} else ""
    return [
        CirculationEvent(
            f"{kind}-{n}",
            1,
            kind,
            "6101030203",
            f"8190067{n:013d}",
            "0201",
            "M01",
            "202512A01",
            date(2027, 11, 30),
            1,
            1,
            START + timedelta(seconds=n),
            "王芳",
            to_unit=TO_UNIT.get(kind, ""),
            reason_code="03" if kind == "scrap" else "",
            approved_by=approver,
        )
        for n in range(count)
    ]


def main(count: int = 10_000) -> None:
    items = records(count)
    moved = {kind: circulation(kind, count // 4) for kind in circulation_xml.KINDS}
    schema()  # load the XSDs outside the timing
    for kind in moved:
        circulation_xml.schema(kind)
    t0 = time.perf_counter()
    document = build(items)
    t1 = time.perf_counter()
    validate(document)
    t2 = time.perf_counter()
    documents = {kind: circulation_xml.build(kind, events) for kind, events in moved.items()}
    t3 = time.perf_counter()
    for kind, built in documents.items():
        circulation_xml.validate(kind, built)
    t4 = time.perf_counter()
    size = sum(len(built) for built in documents.values())
    moved_count = sum(len(events) for events in moved.values())
    print(f"{'step':<22}{'records':>9}{'seconds':>10}{'MB':>8}")
    print(f"{'doses: build':<22}{count:>9}{t1 - t0:>10.2f}{len(document) / 1e6:>8.1f}")
    print(f"{'doses: validate':<22}{count:>9}{t2 - t1:>10.2f}{'':>8}")
    print(f"{'circulation: build':<22}{moved_count:>9}{t3 - t2:>10.2f}{size / 1e6:>8.1f}")
    print(f"{'circulation: validate':<22}{moved_count:>9}{t4 - t3:>10.2f}{'':>8}")
    print(f"{'total':<22}{count + moved_count:>9}{t4 - t0:>10.2f}{'':>8}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
