"""Vaccination ledger validation and versions; upload through the fake provincial platform."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from firmware_sim.provincial_platform import ProvincialPlatform, serve
from gateway.core.clock import FakeClock
from gateway.ledgers.upload import Uploader, in_batch_window
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.ledger.vaccinations import VaccinationLedger
from ledger.errors import LedgerError, RecordError, UploadError
from ledger.idcard import check_digit
from ledger.stock_errors import StockError
from ledger.summaries import daily_tables
from ledger.tables import ReferenceTables
from ledger.upload_xml import build, build_validated, validate
from ledger.vaccination_records import DELETED, NORMAL, Recipient
from tests.ledger.conftest import HEPB, code

ADULT = Recipient(
    archive_no="610103202600001", name="张三", sex="2", birth_date=date(1949, 12, 31),
    id_number="11010519491231002X", phone="13812345678", address="西安市新城区西一路1号",
    crowd_category="29", household_county="610102", current_area="610102001",
    marital_status="20", occupation="16",
)  # fmt: skip
UNIT = "6101030203"
ACTOR = "wangfang"  # the user who enters versions here
DOSE: dict[str, Any] = {
    "manufacturer_code": "M01", "site_code": "1", "vaccinator": "李医生",
    "vaccination_type": "01", "vaccine_attribute": "01", "unit_code": "6101030203",
    "actor": ACTOR,
}  # fmt: skip


@pytest.fixture
def ledger(
    db: LedgerDB, stock: StockLedger, tables: ReferenceTables, clock: FakeClock
) -> VaccinationLedger:
    for n in range(1, 11):
        stock.receive(code(HEPB, n), event_id=f"r{n}", actor="王芳")
    vaccinations = VaccinationLedger(db, stock, tables, clock, UNIT)
    vaccinations.register(ADULT, actor=ACTOR)
    return vaccinations


def test_recipient_refusals_name_fields(ledger: VaccinationLedger) -> None:
    bad = dataclasses.replace(ADULT, id_number="110105194912310021", crowd_category="31")
    with pytest.raises(RecordError) as caught:
        ledger.register(bad, actor=ACTOR)
    fields = [item.field for item in caught.value.problems]
    assert fields == ["id_number", "crowd_category"]
    ledger.register(dataclasses.replace(ADULT, archive_no="X2", id_number="8" * 18), actor=ACTOR)


def adult(n: int) -> Recipient:
    """The n-th adult of the tests (adult(1) is ADULT): another person, another ID number."""
    first17 = f"11010519491231{2 * n:03d}"
    return dataclasses.replace(
        ADULT, archive_no=f"6101032026{n:05d}", id_number=first17 + check_digit(first17)
    )


def test_three_doses_then_dose_four_refused(
    ledger: VaccinationLedger, db: LedgerDB, clock: FakeClock
) -> None:
    for n in (1, 2, 3):
        clock.jump_wall(timedelta(days=61))  # the schedule's intervals: 28 then 60 days
        ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, n), event_id=f"d{n}",
                           dose_no=n, **DOSE)  # fmt: skip
    before = db.conn.execute("SELECT COUNT(*) FROM stock_events").fetchone()
    with pytest.raises(RecordError) as caught:
        ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 4), event_id="d4",
                           dose_no=4, **DOSE)  # fmt: skip
    assert caught.value.field == "dose_no"
    assert "3-dose schedule" in caught.value.reason
    assert db.conn.execute("SELECT COUNT(*) FROM stock_events").fetchone() == before


def test_scan_twice_and_sequence(ledger: VaccinationLedger, clock: FakeClock) -> None:
    ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 1), event_id="d1", dose_no=1,
                       **DOSE)  # fmt: skip
    same = ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 1), event_id="d1",
                              dose_no=1, **DOSE)  # fmt: skip
    assert same.version == 1
    clock.jump_wall(timedelta(days=61))
    with pytest.raises(StockError, match="used up"):
        ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 1), event_id="dx",
                           dose_no=2, **DOSE)  # fmt: skip
    with pytest.raises(RecordError, match="out of sequence"):
        ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 2), event_id="d3",
                           dose_no=3, **DOSE)  # fmt: skip
    with pytest.raises(RecordError) as caught:
        ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 2), event_id="d2",
                           dose_no=2, **{**DOSE, "manufacturer_code": "M13"})  # fmt: skip
    assert caught.value.field == "manufacturer_code"


def test_age_fit(ledger: VaccinationLedger, tables: ReferenceTables) -> None:
    tables.vaccines["0201"] = dataclasses.replace(tables.vaccines["0201"], max_age_months=216)
    with pytest.raises(RecordError, match="does not fit"):
        ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 1), event_id="d1",
                           dose_no=1, **DOSE)  # fmt: skip


def test_corrections_and_deletions_are_versions(ledger: VaccinationLedger) -> None:
    ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 1), event_id="d1", dose_no=1,
                       **DOSE)  # fmt: skip
    ledger.correct("d1", reason="部位录错", actor=ACTOR, site_code="2")
    with pytest.raises(RecordError) as caught:
        ledger.correct("d1", reason="x", actor=ACTOR, batch_no="123")
    assert caught.value.field == "batch_no"
    ledger.delete("d1", reason="重复录入", actor=ACTOR)
    history = ledger.history("d1")
    assert [(r.version, r.status, r.site_code) for r in history] == [
        (1, NORMAL, "1"), (2, NORMAL, "2"), (3, DELETED, "2")]  # fmt: skip


def test_xml_validates_and_refuses_bad_record(ledger: VaccinationLedger) -> None:
    record = ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 1), event_id="d1",
                                dose_no=1, **DOSE)  # fmt: skip
    document = build_validated([record])
    assert b"<RecordStatus>01</RecordStatus>" in document
    with pytest.raises(UploadError) as caught:
        build_validated([dataclasses.replace(record, unit_code="610103")])
    assert "UnitCode" in caught.value.field
    with pytest.raises(UploadError):
        validate(b"<not-xml")
    assert build([]).startswith(b"<?xml")


@pytest_asyncio.fixture
async def platform() -> AsyncIterator[tuple[ProvincialPlatform, str]]:
    fake = ProvincialPlatform()
    runner, port = await serve(fake)
    try:
        yield fake, f"http://127.0.0.1:{port}/upload"
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_upload_feedback_and_resend_of_correction(
    ledger: VaccinationLedger, db: LedgerDB, clock: FakeClock,
    platform: tuple[ProvincialPlatform, str], tables: ReferenceTables,
) -> None:  # fmt: skip
    fake, url = platform
    # the platform's dictionary says M01 does not make 0201: a mismatch the clinic cannot see
    hepb = dataclasses.replace(tables.vaccines["0201"], manufacturers=frozenset({"M02"}))
    fake.tables = dataclasses.replace(tables, vaccines={**tables.vaccines, "0201": hepb})
    ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 1), event_id="d1", dose_no=1,
                       **DOSE)  # fmt: skip
    uploader = Uploader(db, clock, url)
    async with aiohttp.ClientSession() as session:
        outcome = await uploader.send_due(session)
        received = len(uploader.circulation_rejections())  # their vaccine's mismatch too
        assert (outcome.sent, outcome.rejected) == (1 + received, 1 + received)
        assert uploader.rejections() == [("d1", 1, "疫苗生产企业和疫苗不匹配", "mismatch")]
        fake.tables = tables
        ledger.correct("d1", reason="平台反馈", actor=ACTOR, sex="2")
        outcome = await uploader.send_due(session)
        assert (outcome.sent, outcome.accepted) == (1, 1)
    assert uploader.rejections() == []
    assert ("d1", 2) in fake.accepted
    rates = uploader.rates(clock.now().date())
    assert (rates.upload_rate, rates.timeliness_rate) == (1.0, 1.0)


@pytest.mark.asyncio
async def test_platform_down_three_days_nothing_lost(
    ledger: VaccinationLedger, db: LedgerDB, clock: FakeClock,
    platform: tuple[ProvincialPlatform, str],
) -> None:  # fmt: skip
    fake, url = platform
    fake.down = True
    ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 1), event_id="d1", dose_no=1,
                       **DOSE)  # fmt: skip
    uploader = Uploader(db, clock, url, realtime=False)
    async with aiohttp.ClientSession() as session:
        assert uploader.deadline_alarms() == []
        for _ in range(3 * 24):
            await clock.advance(3600)
            outcome = await uploader.send_due(session)
            assert outcome.accepted == 0
        alarms = uploader.deadline_alarms()
        assert [a.record_id for a in alarms] == ["d1"]
        assert uploader.pending() == [("d1", 1)]
        fake.down = False
        outcome = await uploader.send_due(session)
        assert outcome.accepted == 1
    rates = uploader.rates(date(2026, 3, 2))
    assert (rates.upload_rate, rates.timeliness_rate) == (1.0, 0.0)


@pytest.mark.asyncio
async def test_unreachable_platform_counts_as_down(ledger: VaccinationLedger, db: LedgerDB,
                                                   clock: FakeClock) -> None:  # fmt: skip
    ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 1), event_id="d1", dose_no=1,
                       **DOSE)  # fmt: skip
    uploader = Uploader(db, clock, "http://127.0.0.1:9/upload", timeout_s=2)
    async with aiohttp.ClientSession() as session:
        outcome = await uploader.send_due(session)
    assert outcome.platform_down
    assert uploader.pending() == [("d1", 1)]


def test_batch_window(clock: FakeClock) -> None:
    assert not in_batch_window(clock.now())  # 09:00 local


def test_daily_tables(ledger: VaccinationLedger, tables: ReferenceTables, clock: FakeClock) -> None:
    ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 1), event_id="d1", dose_no=1,
                       **DOSE)  # fmt: skip
    day = date(2026, 3, 2)
    first = daily_tables(ledger.current_records(), day, tables)
    assert first["age_group"].today == {("M01", "≥70岁", 1): 1}
    assert first["crowd_category"].cumulative == {("M01", "29", 1): 1}
    second = daily_tables(ledger.current_records(), date(2026, 3, 3), tables, first)
    assert second["age_group"].zero_report
    assert second["age_group"].cumulative == {("M01", "≥70岁", 1): 1}
    assert second["age_group"].due_at.hour == 12


def test_ledger_error_is_the_root() -> None:
    assert issubclass(RecordError, LedgerError)
