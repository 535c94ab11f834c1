"""The leaf's compartment reference and the clinic's local days and months."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.clinic_time import day_bounds, month_bounds, parse_month
from gateway.core.compartments import (
    CompartmentKind,
    CompartmentRef,
    CompartmentSettings,
    FridgeKind,
    FridgeSettings,
    compartment_refs,
    find_compartment,
)

FRIDGE = FridgeSettings(
    code="F1",
    name="冷藏柜一号",
    kind=FridgeKind.REFRIGERATOR,
    compartments=[
        CompartmentSettings(name="冷藏", kind=CompartmentKind.REFRIGERATED),
        CompartmentSettings(name="冷冻", kind=CompartmentKind.FROZEN),
    ],
)


def test_a_reference_parses_and_prints_back() -> None:
    ref = CompartmentRef.parse("F1/冷藏")
    assert ref == CompartmentRef("F1", "冷藏")
    assert str(ref) == "F1/冷藏"
    assert CompartmentRef.parse("10001") is None  # a gateway's subject, not a compartment


def test_references_are_found_in_the_fridges() -> None:
    assert compartment_refs([FRIDGE]) == ["F1/冷藏", "F1/冷冻"]
    fridge, compartment = find_compartment([FRIDGE], "F1/冷冻")
    assert (fridge.code, compartment.kind, compartment.max_c) == ("F1", "frozen", -15.0)
    for missing in ("F1/冷柜", "F2/冷藏", "F1"):
        with pytest.raises(KeyError) as raised:
            find_compartment([FRIDGE], missing)
        assert raised.value.args == (missing,)


def test_local_days_and_months_begin_at_midnight_in_china() -> None:
    start, end = day_bounds(date(2026, 3, 2))
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (
        datetime(2026, 3, 1, 16, tzinfo=UTC),
        datetime(2026, 3, 2, 16, tzinfo=UTC),
    )
    start, end = month_bounds(2026, 12)
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (
        datetime(2026, 11, 30, 16, tzinfo=UTC),
        datetime(2026, 12, 31, 16, tzinfo=UTC),
    )


def test_a_month_is_four_and_two_ascii_digits_within_the_calendars_reach() -> None:
    assert parse_month("2026-04") == (2026, 4)
    for text, why in [
        ("2026-4", "is not a month; write YYYY-MM"),
        ("2026-04-01", "is not a month; write YYYY-MM"),
        ("２０２６-04", "is not a month; write YYYY-MM"),
        ("2026-13", "the month of YYYY-MM must be 01 to 12"),
        ("0000-01", "the year of YYYY-MM must be 1971 to 2998"),
        ("9999-12", "the year of YYYY-MM must be 1971 to 2998"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_month(text)
    for year, month in [(1971, 1), (2998, 12)]:
        start, end = month_bounds(*parse_month(f"{year}-{month:02d}"))
        assert start.astimezone(UTC) < end.astimezone(UTC)


MONTHS = st.builds("{:04d}-{:02d}".format, st.integers(0, 9999), st.integers(0, 13))


@given(st.text(max_size=12) | MONTHS)
def test_any_text_is_a_month_with_bounds_or_refused_by_value_error(text: str) -> None:
    """What a query, a path or `--month` may carry: a month whose bounds exist, or refused."""
    try:
        year, month = parse_month(text)
    except ValueError:
        return
    start, end = month_bounds(year, month)
    assert start.astimezone(UTC) < end.astimezone(UTC)
    assert (start.year, start.month) == (year, month)
