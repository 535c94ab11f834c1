"""The pure parts behind the ledger routes: masking (properties), the certificate page
(escaping of any text, as a property), and the read audit on a real ledger file."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.clock import FakeClock
from gateway.storage.ledger.audit import ReadAudit
from gateway.storage.ledger.db import LedgerDB
from ledger.certificate import certificate_html
from ledger.errors import RecordError
from ledger.idcard import PLACEHOLDER, check_digit
from ledger.masking import mask_address, mask_id, mask_name, mask_phone, masked_recipient
from ledger.tables import ReferenceTables, load_tables
from ledger.vaccination_records import DELETED, NORMAL, DoseRecord, Recipient, next_doses

TABLES = load_tables()
PERSON = Recipient(
    archive_no="610103202600001", name="张小三", sex="2", birth_date=date(1949, 12, 31),
    id_number="11010519491231002X", phone="13812345678", address="陕西省西安市新城区西一路1号",
    crowd_category="29", household_county="610102", current_area="610102001",
    marital_status="20", occupation="16",
)  # fmt: skip
AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
text = st.text(max_size=60)


def dose(record_id: str, dose_no: int, status: str = NORMAL, **changes: str) -> DoseRecord:
    fields = {
        "record_id": record_id, "version": 1, "status": status, "recipient": PERSON,
        "vaccine_code": "0201", "manufacturer_code": "M01", "batch_no": "202512A01",
        "trace_code": "81900670000000000001", "dose_no": dose_no, "vaccinated_at": AT,
        "site_code": "1", "vaccinator": "李医生", "vaccination_type": "01",
        "vaccine_attribute": "01", "unit_code": "6101030203",
    }  # fmt: skip
    return DoseRecord(**{**fields, **changes})  # type: ignore[arg-type]


def test_masks_of_the_usual_values() -> None:
    assert mask_name("张小三") == "张*三"
    assert mask_name("欧阳娜娜") == "欧**娜"
    assert mask_id("61010319900307123X") == "6101************3X"
    assert mask_id(PLACEHOLDER) == PLACEHOLDER
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("") == ""
    assert mask_phone("87654321") == "****4321"
    assert mask_phone("8765432") == "****432"
    assert mask_phone("+8613812345678") == "+86*******5678"
    assert mask_address("陕西省西安市新城区西一路1号") == "陕西省西安市********"
    masked = masked_recipient(PERSON)
    assert (masked.archive_no, masked.birth_date, masked.crowd_category) == (
        PERSON.archive_no, PERSON.birth_date, PERSON.crowd_category)  # fmt: skip


@given(text)
def test_every_mask_keeps_length_and_is_stable(value: str) -> None:
    for mask in (mask_name, mask_id, mask_phone, mask_address):
        masked = mask(value)
        assert len(masked) == len(value)
        assert mask(masked) == masked
        hidden = sum(1 for a, b in zip(value, masked, strict=True) if a != b or b == "*")
        kept = [b for b in masked if b != "*"]
        assert all(char in value for char in kept)
        if value:
            assert hidden >= 1


@given(st.text(min_size=8, max_size=80))
def test_an_address_never_shows_more_than_half(value: str) -> None:
    masked = mask_address(value)
    assert masked.count("*") >= len(value) - len(value) // 2


@given(st.from_regex(r"[1-6][0-9]{5}(19[0-9]{2}|20[0-2][0-9])(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])"
                     r"[0-9]{3}", fullmatch=True))  # fmt: skip
def test_an_id_number_never_shows_the_birth_date_or_serial(first17: str) -> None:
    number = first17 + check_digit(first17)
    masked = mask_id(number)
    assert masked[4:-2] == "*" * 12
    assert number[6:14] not in masked


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_a_mobile_number_hides_its_middle(phone: str) -> None:
    assert mask_phone(phone) == phone[:3] + "****" + phone[-4:]


@given(st.from_regex(r"[0-9+-]{1,20}", fullmatch=True))
def test_a_phone_hides_at_least_four_or_all(phone: str) -> None:
    hidden = mask_phone(phone).count("*")
    assert hidden == len(phone) or hidden >= 4


class _Cells(HTMLParser):
    """Text of every td/th cell, and every tag the page opens."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[str] = []
        self.tags: set[str] = set()
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag in {"td", "th"}:
            self._in_cell = True
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"}:
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells[-1] += data


PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "table", "thead",
             "tbody", "tr", "th", "td", "p"}  # fmt: skip


@given(name=text, address=text, batch=text, site=text)
def test_any_text_in_the_certificate_is_escaped(
    name: str, address: str, batch: str, site: str
) -> None:
    person = dataclasses.replace(PERSON, name=name, address=address)
    page = certificate_html(person, [dose("d1", 1, batch_no=batch, site_code=site)], TABLES,
                            printed_at=AT, issuer=site, unit_names={})  # fmt: skip
    parser = _Cells()
    parser.feed(page)
    parser.close()
    assert parser.tags <= PAGE_TAGS
    assert name.replace("\r\n", "\n").replace("\r", "\n") in {
        cell.replace("\r\n", "\n").replace("\r", "\n") for cell in parser.cells
    }
    assert batch in parser.cells or "\r" in batch


def test_certificate_lists_doses_in_force_with_names() -> None:
    tables: ReferenceTables = TABLES
    records = [dose("d1", 1), dose("d2", 2, status=DELETED), dose("d3", 2, site_code="9")]
    names = {"6101030203": "演示预防接种门诊"}
    page = certificate_html(PERSON, [*records, dose("d4", 1, unit_code="6101039999")], tables,
                            printed_at=AT, issuer="演示预防接种门诊", unit_names=names,
                            next_due=next_doses(PERSON, records, tables), paper="A4")  # fmt: skip
    parser = _Cells()
    parser.feed(page)
    person = parser.cells[:14]  # 7 rows of 2 cells, as seed 000's reference format
    assert person[::2] == ["受种者编码 Code", "身份证件号码 ID or others", "受种者姓名 Name",
                           "出生日期 Date of birth", "性别 Gender", "联系电话 Mobile phone",
                           "家庭住址 Current Address"]  # fmt: skip
    rows = parser.cells[14 + 7 :]  # then 7 headings
    assert rows[:7] == ["1", "乙肝疫苗(10μg酿酒酵母)", "第1剂", "2026-03-02", "202512A01",
                        "深圳康泰生物制品股份有限公司", "演示预防接种门诊"]  # fmt: skip
    assert rows[7:10] == ["2", "乙肝疫苗(10μg酿酒酵母)", "第2剂"]
    assert rows[20] == "6101039999"  # a unit missing from the names shows its code
    assert rows[21:] == ["疫苗名称 Vaccine", "剂次 Dose", "最早接种日期 Due from",
                         "乙肝疫苗(10μg酿酒酵母)", "第3剂", "2026-05-01"]  # fmt: skip
    assert "发证单位 Clinic：演示预防接种门诊" in page
    assert "size: A4" in page
    empty = certificate_html(PERSON, [], tables, printed_at=AT, issuer="", unit_names={})
    assert "无接种记录" in empty
    assert "size: A5" in empty


def test_read_audit_appends_and_filters(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    clock = FakeClock(AT)
    with LedgerDB.in_folder(tmp_path) as db:
        audit = ReadAudit(db, clock)
        first = audit.note("li", "recipient", archive_no="A1", purpose="接种前核对")
        audit.note("wang", "certificate", archive_no="A2")
        audit.note("li", "record", archive_no="A2", record_id="d1")
        assert first.at == AT
        assert [r.what for r in audit.reads(archive_no="A2")] == ["certificate", "record"]
        assert [r.archive_no for r in audit.reads(reader="li")] == ["A1", "A2"]
        assert [r.seq for r in audit.reads(after_seq=first.seq, limit=1)] == [first.seq + 1]
        for reader, what, purpose, field in (
            (" ", "recipient", "", "reader"),
            ("li", "everything", "", "what"),
            ("li", "recipient", "x" * 201, "purpose"),
        ):
            with pytest.raises(RecordError) as caught:
                audit.note(reader, what, purpose=purpose)
            assert caught.value.field == field
        assert len(audit.reads()) == 3
