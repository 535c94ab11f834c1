"""The batch field refuses every value of another field or a placeholder, whatever its spelling
(issue 16 item 4; seed 000's bad batch values are the examples): property tests."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.batch_field import check_batch
from ledger.errors import BatchFieldError
from ledger.idcard import check_digit, parse_id_number

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤吉蒲"
)
GIVEN = "淑琴元明伟芳娜敏静丽强磊军洋勇艳杰娟涛超明霞秀英华平刚桂兰"
PLACEHOLDERS = ["null", "NULL", "None", "undefined", "不详", "未知", "无", "暂无", "n/a", "N/A",
                "test", "unknown", "-", "--", "/", "?", "0000", "xxxx", "批号"]  # fmt: skip

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
region = st.from_regex(r"[1-8][0-9]{5}", fullmatch=True)
birth = st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 12, 31))


@st.composite
def id_18(draw: st.DrawFn) -> str:
    first17 = (
        draw(region)
        + draw(birth).strftime("%Y%m%d")
        + draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    )
    number = first17 + check_digit(first17)
    assert parse_id_number(number).number == number
    return number if draw(st.booleans()) else number.lower()


@st.composite
def id_15(draw: st.DrawFn) -> str:
    return (
        draw(region)
        + draw(birth).strftime("%y%m%d")
        + draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    )


@st.composite
def mobile(draw: st.DrawFn) -> str:
    number = (
        "1" + draw(st.sampled_from("3456789")) + draw(st.from_regex(r"[0-9]{9}", fullmatch=True))
    )
    sep = draw(st.sampled_from(["", "-", " "]))
    return f"{number[:3]}{sep}{number[3:7]}{sep}{number[7:]}"


@st.composite
def han_name(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(SURNAMES)) + draw(st.text(alphabet=GIVEN, min_size=1, max_size=3))


@st.composite
def padded_placeholder(draw: st.DrawFn) -> str:
    word = draw(st.sampled_from(PLACEHOLDERS))
    word = "".join(c.upper() if draw(st.booleans()) else c for c in word)
    pad = draw(st.sampled_from(["", " ", "  ", "\u3000"]))
    return f"{pad}{word}{pad}"


@st.composite
def written_date(draw: st.DrawFn) -> str:
    day = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)))
    sep = draw(st.sampled_from("-./"))
    return f"{day.year}{sep}{day.month:02d}{sep}{day.day:02d}"


OTHER_FIELDS = {
    "an 18-character ID number": id_18(),
    "a 15-digit ID number": id_15(),
    "a mobile number": mobile(),
    "a 20-digit trace code": st.from_regex(r"[0-9]{20}", fullmatch=True),
    "a GTIN-13/14 or GS1 string": st.from_regex(r"(69|01)[0-9]{11,30}", fullmatch=True),
    "a name in Han characters": han_name(),
    "a name in pinyin": st.from_regex(r"[A-Za-z]{2,12}", fullmatch=True),
    "a placeholder": padded_placeholder(),
    "an expiry date": written_date(),
    "a fridge label": st.from_regex(r"CCFRIDGE:[0-9]{10}:F[0-9]", fullmatch=True),
    "one repeated character": st.from_regex(r"([0-9A-Za-z])\1{3,19}", fullmatch=True),
    "too short": st.from_regex(r"[0-9A-Z]{1,3}", fullmatch=True),
}


@pytest.mark.parametrize("kind", sorted(OTHER_FIELDS))
def test_values_of_other_fields_are_refused(kind: str) -> None:
    @settings(max_examples=150, deadline=None)
    @given(OTHER_FIELDS[kind])
    def refused(value: str) -> None:
        with pytest.raises(BatchFieldError) as caught:
            check_batch(value)
        assert caught.value.field == "batch_no"
        assert caught.value.code == "batch_field_invalid"

    refused()


@st.composite
def real_batch(draw: st.DrawFn) -> str:
    """Shapes printed on Chinese and imported vaccine packages: 202512A01, C20260104, J20210301,
    20210415, 2021-0301, AB1234X."""
    year = draw(st.integers(2018, 2030))
    month = draw(st.integers(1, 12))
    letter = draw(st.sampled_from("ABCJKPTXY"))
    serial = draw(st.integers(1, 999))
    shape = draw(st.integers(0, 4))
    if shape == 0:
        return f"{year}{month:02d}{letter}{serial:02d}"
    if shape == 1:
        return f"{letter}{year}{month:02d}{draw(st.integers(1, 28)):02d}"
    if shape == 2:
        return f"{year}{month:02d}{draw(st.integers(1, 28)):02d}"
    if shape == 3:
        return f"{year}-{month:02d}{serial:02d}"
    return f"{letter}{letter.lower()}{serial:03d}{year % 100:02d}X"


@settings(max_examples=300, deadline=None)
@given(real_batch(), st.sampled_from(["", " ", "   "]))
def test_batch_numbers_of_real_shapes_pass(value: str, pad: str) -> None:
    assert check_batch(f"{pad}{value}{pad}") == value


@settings(max_examples=150, deadline=None)
@given(real_batch(), st.sampled_from(["id_number", "phone", "unit_code", "trace_code"]))
def test_a_value_of_the_same_record_is_refused_naming_its_field(value: str, other: str) -> None:
    with pytest.raises(BatchFieldError, match=other):
        check_batch(value, others={other: value.lower(), "name": "张三"})
