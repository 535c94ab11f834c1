"""Every field the national platform refuses empty or out of dictionary is collected and checked
at entry (issue 16 item 2, reference/upload_errors.csv); one person, one archive (重卡); doses
by the schedule table; the simulated platform answers with the platform's own messages."""

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
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.ledger.vaccinations import VaccinationLedger
from ledger.errors import DuplicatePersonError, RecordError
from ledger.idcard import PLACEHOLDER
from ledger.tables import ReferenceTables
from ledger.upload_xml import build_validated, record_fields
from ledger.vaccination_records import DoseRecord
from tests.ledger.conftest import COVID, HEPB, UNIT, code
from tests.ledger.test_vaccinations_upload import ACTOR, ADULT, DOSE, adult

INFANT = dataclasses.replace(
    ADULT, archive_no="610103202600100", name="王小宝", sex="1", birth_date=date(2026, 2, 20),
    id_number=PLACEHOLDER, phone="13912345678", crowd_category="28", marital_status="10",
    occupation="02", mother_name="李娟",
)  # fmt: skip


@pytest.fixture
def ledger(
    db: LedgerDB, stock: StockLedger, tables: ReferenceTables, clock: FakeClock
) -> VaccinationLedger:
    for n in range(1, 11):
        stock.receive(code(HEPB, n), event_id=f"r{n}", actor="王芳")
        stock.receive(code(COVID, n), event_id=f"c{n}", actor="王芳")
    vaccinations = VaccinationLedger(db, stock, tables, clock, UNIT)
    vaccinations.register(ADULT, actor=ACTOR)
    return vaccinations


def recipients(db: LedgerDB) -> int:
    count: int = db.conn.execute("SELECT COUNT(*) FROM recipients").fetchone()[0]
    return count


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("household_county", "", "empty"),
        ("household_county", "999999", "not in the code table"),
        ("household_county", "610102001", "not in the code table"),  # a street, not a county
        ("current_area", "", "empty"),
        ("current_area", "610199", "not in the code table"),
        ("marital_status", "", "empty"),
        ("marital_status", "2", "not in the code table"),  # 7,817 rejections: one digit
        ("occupation", "", "empty"),
        ("occupation", "工匠", "not in the code table"),
        ("crowd_category", "", "empty"),
        ("crowd_category", "31", "not in the code table"),
    ],
)
def test_each_field_the_platform_refuses_is_refused_at_entry(
    ledger: VaccinationLedger, db: LedgerDB, field: str, value: str, why: str
) -> None:
    before = recipients(db)
    person = dataclasses.replace(adult(2), **{field: value})
    with pytest.raises(RecordError) as caught:
        ledger.register(person, actor=ACTOR)
    assert (caught.value.field, caught.value.code) == (field, "record_invalid")
    assert why in caught.value.reason
    assert recipients(db) == before


def test_minors_need_a_parent_or_guardian_and_newborns_their_mother(
    ledger: VaccinationLedger,
) -> None:
    child = dataclasses.replace(INFANT, birth_date=date(2020, 5, 1), mother_name="")
    with pytest.raises(RecordError) as caught:
        ledger.register(child, actor=ACTOR)
    assert caught.value.field == "guardian_name"
    ledger.register(dataclasses.replace(child, guardian_name="王奶奶"), actor=ACTOR)
    newborn = dataclasses.replace(INFANT, archive_no="610103202600101", mother_name="",
                                  father_name="王大")  # fmt: skip
    with pytest.raises(RecordError) as caught:
        ledger.register(newborn, actor=ACTOR)
    assert caught.value.field == "mother_name"
    ledger.register(INFANT, actor=ACTOR)


def test_the_ledger_stamps_units_and_times(ledger: VaccinationLedger, clock: FakeClock) -> None:
    first = ledger.recipient(ADULT.archive_no)
    assert (first.archive_unit, first.management_unit, first.updated_unit) == (UNIT, UNIT, UNIT)
    assert (first.management_start, first.updated_at) == (date(2026, 3, 2), clock.now())
    clock.jump_wall(timedelta(days=3))
    ledger.register(dataclasses.replace(ADULT, phone="13700000000"), actor=ACTOR)
    second = ledger.recipient(ADULT.archive_no)
    assert second.management_start == date(2026, 3, 2)  # 起始管理日期 stays
    assert second.updated_at == clock.now()  # 修改时间 moves


def test_same_id_number_under_a_new_archive_is_refused(
    ledger: VaccinationLedger, db: LedgerDB
) -> None:
    lower_x = ADULT.id_number.lower()
    again = dataclasses.replace(ADULT, archive_no="610103202699999", id_number=lower_x)
    with pytest.raises(DuplicatePersonError) as caught:
        ledger.register(again, actor=ACTOR)
    assert caught.value.code == "person_duplicate"
    assert caught.value.field == "id_number"
    assert ADULT.archive_no in caught.value.reason
    assert recipients(db) == 1
    ledger.register(dataclasses.replace(ADULT, address="西安市碑林区南大街2号"), actor=ACTOR)
    moved = dataclasses.replace(adult(2))
    ledger.register(moved, actor=ACTOR)
    with pytest.raises(DuplicatePersonError):  # a new version taking another person's number
        ledger.register(dataclasses.replace(moved, id_number=ADULT.id_number), actor=ACTOR)


def test_infants_without_id_are_found_by_name_birth_date_and_mother(
    ledger: VaccinationLedger,
) -> None:
    ledger.register(INFANT, actor=ACTOR)
    twin_card = dataclasses.replace(INFANT, archive_no="610103202600102", name=" 王小宝 ")
    with pytest.raises(DuplicatePersonError) as caught:
        ledger.register(twin_card, actor=ACTOR)
    assert caught.value.field == "name"
    other_mother = dataclasses.replace(twin_card, name="王小宝", mother_name="张敏")
    ledger.register(other_mother, actor=ACTOR)


def test_the_duplicate_check_uses_the_identity_index(ledger: VaccinationLedger) -> None:
    plan = ledger.db.conn.execute(
        "EXPLAIN QUERY PLAN SELECT r.archive_no FROM recipients r WHERE r.identity = ?"
        " AND r.archive_no != ?",
        ("id:x", "y"),
    ).fetchall()
    assert any("recipients_identity" in str(row) for row in plan)


def give(ledger: VaccinationLedger, n: int, dose_no: int, **changes: Any) -> DoseRecord:
    fields = {**DOSE, **changes}
    product = COVID if fields.get("manufacturer_code") == "M13" else HEPB
    return ledger.record_dose(archive_no=fields.pop("archive_no", ADULT.archive_no),
                              scan=code(product, n), event_id=f"e{product}{n}", dose_no=dose_no,
                              **fields)  # fmt: skip


def test_dose_intervals_follow_the_schedule_table(
    ledger: VaccinationLedger, clock: FakeClock
) -> None:
    give(ledger, 1, 1)
    clock.jump_wall(timedelta(minutes=5))
    with pytest.raises(RecordError) as caught:
        give(ledger, 2, 2)
    assert caught.value.field == "dose_no"
    assert "28 days" in caught.value.reason
    assert "due from 2026-03-30" in caught.value.reason
    clock.jump_wall(timedelta(days=27, hours=23, minutes=55))
    give(ledger, 2, 2)
    clock.jump_wall(timedelta(days=59))
    with pytest.raises(RecordError, match="60 days"):
        give(ledger, 3, 3)


def test_per_dose_minimum_age(ledger: VaccinationLedger, clock: FakeClock) -> None:
    ledger.register(INFANT, actor=ACTOR)
    give(ledger, 1, 1, archive_no=INFANT.archive_no)
    clock.jump_wall(timedelta(days=28))  # 5 weeks old: dose 2 of hepatitis B is from 1 month
    give(ledger, 2, 2, archive_no=INFANT.archive_no)
    clock.jump_wall(timedelta(days=60))  # 13 weeks old: dose 3 is from 6 months
    with pytest.raises(RecordError, match="from 6 months of age"):
        give(ledger, 3, 3, archive_no=INFANT.archive_no)


@pytest.mark.parametrize(
    ("product_maker", "kind", "attribute", "field"),
    [
        ("M01", "04", "06", "vaccination_type"),  # hepatitis B is not emergency use
        ("M01", "01", "06", "vaccine_attribute"),
        ("M01", "01", "05", "vaccine_attribute"),
        ("M13", "04", "05", "vaccine_attribute"),  # emergency: 04 with 06, both or neither
        ("M13", "01", "05", "vaccination_type"),  # a COVID vaccine is not routine
        ("M13", "03", "05", "vaccination_type"),
    ],
)
def test_type_and_attribute_consistent_with_the_vaccine(
    ledger: VaccinationLedger, product_maker: str, kind: str, attribute: str, field: str
) -> None:
    with pytest.raises(RecordError) as caught:
        give(ledger, 1, 1, manufacturer_code=product_maker, vaccination_type=kind,
             vaccine_attribute=attribute)  # fmt: skip
    assert field in [item.field for item in caught.value.problems]


def test_consistent_uses_are_accepted(ledger: VaccinationLedger) -> None:
    give(ledger, 1, 1, manufacturer_code="M13", vaccination_type="02", vaccine_attribute="05")
    person = adult(3)
    ledger.register(person, actor=ACTOR)
    give(ledger, 2, 1, archive_no=person.archive_no, manufacturer_code="M13",
         vaccination_type="04", vaccine_attribute="06")  # fmt: skip
    give(ledger, 3, 1, archive_no=person.archive_no, vaccination_type="03")


@pytest_asyncio.fixture
async def platform() -> AsyncIterator[tuple[ProvincialPlatform, str]]:
    fake = ProvincialPlatform(units=frozenset({UNIT}), province="61")
    runner, port = await serve(fake)
    try:
        yield fake, f"http://127.0.0.1:{port}/upload"
    finally:
        await runner.cleanup()


async def answers(url: str, records: list[DoseRecord]) -> list[str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=build_validated(records)) as response,
    ):
        body = await response.json()
    assert response.status == 200, body
    return [result["error"] for result in body["results"]]


@pytest.mark.asyncio
async def test_platform_answers_each_missing_field_in_its_own_words(
    ledger: VaccinationLedger, platform: tuple[ProvincialPlatform, str]
) -> None:
    fake, url = platform
    good = give(ledger, 1, 1)
    assert await answers(url, [good]) == [""]
    assert fake.check(_fields(good)) == []
    cases: list[tuple[dict[str, Any], str]] = [
        ({"household_county": ""}, "户籍县编码不能为空"),
        ({"household_county": "610102001"}, "户籍县编码值不在字典中"),
        ({"current_area": "000000"}, "现住地区代码值不在字典中"),
        ({"marital_status": "9"}, "婚姻状况代码值不在字典中"),
        ({"occupation": "x"}, "职业类别代码值不在字典中"),
        ({"management_unit": ""}, "现管理单位代码不能为空"),
        ({"management_unit": "6101039999"}, "现管理单位代码值不在字典中"),
        ({"management_start": None}, "起始管理日期不能为空"),
        ({"archive_unit": "1101030203"}, "建档单位代码值超出允许范围"),
        ({"updated_unit": "6101039999"}, "受种者档案更新单位编码值不在字典中"),
        ({"birth_date": date(2020, 1, 1), "id_number": PLACEHOLDER},
         "父亲姓名或母亲姓名或监护人姓名参数不能为空"),
        ({"birth_date": date(2026, 2, 20), "id_number": PLACEHOLDER, "father_name": "王大"},
         "新生儿母亲姓名不能为空"),
    ]  # fmt: skip
    records = [
        dataclasses.replace(good, recipient=dataclasses.replace(good.recipient, **changes))
        for changes, _ in cases
    ]
    records.append(dataclasses.replace(good, updated_at=None))
    records.append(dataclasses.replace(good, unit_code="1101030203"))
    expected = [message for _, message in cases] + ["修改时间不能为空", "修改单位代码值不在字典中"]
    fake.units = frozenset({UNIT, "1101030203"})
    got = await answers(url, records)
    assert got[:-1] == expected[:-1]
    assert got[-1] == "修改单位代码值超出允许范围"  # in the dictionary, another province
    fake.units = frozenset({UNIT})
    assert (await answers(url, records[-1:])) == [expected[-1]]


def _fields(record: DoseRecord) -> dict[str, Any]:
    return dict(record_fields(record))


def test_every_recipient_field_is_in_the_upload(ledger: VaccinationLedger) -> None:
    record = give(ledger, 1, 1)
    document = build_validated([record]).decode("utf-8")
    for element, value in [("HouseholdCounty", "610102"), ("CurrentArea", "610102001"),
                           ("MaritalStatus", "20"), ("Occupation", "16"),
                           ("ManagementUnit", UNIT), ("ArchiveUnit", UNIT),
                           ("ManagementStart", "2026-03-02"), ("UpdateUnit", UNIT),
                           ("UpdateTime", "2026-03-02T09:00:00+08:00")]:  # fmt: skip
        assert f"<{element}>{value}</{element}>" in document


def test_coded_fields_are_taken_by_their_names_and_stored_as_codes(
    ledger: VaccinationLedger,
) -> None:
    named = dataclasses.replace(adult(2), crowd_category="其他人员", marital_status="已婚",
                                occupation="16 离退人员", household_county="陕西省西安市新城区",
                                current_area="陕西省西安市新城区西一路街道")  # fmt: skip
    stored = ledger.register(named, actor=ACTOR)
    assert (stored.crowd_category, stored.marital_status, stored.occupation,
            stored.household_county, stored.current_area) == (
        "29", "20", "16", "610102", "610102001")  # fmt: skip
    record = ledger.record_dose(
        archive_no=stored.archive_no, scan=code(HEPB, 1), event_id="n1", dose_no=1,
        site_code="左上臂三角肌", vaccination_type="常规", vaccine_attribute="国家免疫规划疫苗",
        vaccinator="李医生", unit_code=UNIT, actor=ACTOR,
    )  # fmt: skip
    assert (record.manufacturer_code, record.site_code, record.vaccination_type,
            record.vaccine_attribute) == ("M01", "1", "01", "01")  # fmt: skip
    with pytest.raises(RecordError) as caught:
        ledger.register(dataclasses.replace(adult(3), marital_status="已经结婚"), actor=ACTOR)
    assert caught.value.field == "marital_status"
