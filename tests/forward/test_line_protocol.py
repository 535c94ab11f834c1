"""Pure line protocol: schema, escaping, non-ok readings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.forward.line_protocol import LineEncoder, escape_tag, series_key
from gateway.forward.tags import Identity, ProbeTags, identity_from_settings
from gateway.settings import load_settings
from gateway.storage.readings import (
    ReadingStore,
    Row,
    StoredReading,
    StoredRows,
    row_flags,
    to_millis,
)
from probes.reading import STATUS_CODES, ProbeStatus, Reading

AT = datetime(2026, 3, 1, 8, 0, 0, 123000, tzinfo=UTC)
MS = 1772352000123


def encoder(compartment: str = "冷藏室") -> LineEncoder:
    tags = {"208601": ProbeTags("F-1", compartment, "refrigerated")}
    return LineEncoder(Identity("3301020001", "10001", tags))


def test_an_ok_reading_carries_every_field_and_sorted_tags() -> None:
    item = StoredReading(1, Reading("208601", AT, ProbeStatus.OK, 4.5, 55.0, 3.1))
    assert encoder().line(item) == (
        "coldchain,compartment=冷藏室,fridge=F-1,gateway=10001,kind=refrigerated,probe=208601,"
        f"unit=3301020001 temperature=4.5,humidity=55.0,battery=3.1,status=0i {MS}"
    )


def test_a_disconnected_reading_writes_the_status_only() -> None:
    item = StoredReading(2, Reading("208601", AT, ProbeStatus.DISCONNECTED))
    assert encoder().line(item).endswith(f" status=1i {MS}")
    assert "temperature" not in encoder().line(item)


@pytest.mark.parametrize(("humidity", "battery"), [(math.nan, None), (None, math.inf)])
def test_non_finite_values_never_reach_a_line(
    humidity: float | None, battery: float | None
) -> None:
    """Line protocol cannot carry NaN or inf: a reading holding one cannot be made."""
    with pytest.raises(ValueError, match="is not a number"):
        Reading("208601", AT, ProbeStatus.OK, 4.0, humidity, battery)


def test_unknown_probe_is_written_with_its_code_only() -> None:
    item = StoredReading(4, Reading("999", AT, ProbeStatus.BUS_ERROR))
    assert (
        encoder().line(item) == f"coldchain,gateway=10001,probe=999,unit=3301020001 status=3i {MS}"
    )


def test_escaping_of_spaces_commas_equals_chinese_and_newlines() -> None:
    assert escape_tag("upper shelf, left") == r"upper\ shelf\,\ left"
    assert escape_tag("a=b") == r"a\=b"
    assert escape_tag("冷藏 室") == "冷藏\\ 室"
    assert escape_tag("two\nlines\tand\r") == r"two\nlines\tand\r"
    assert escape_tag("a\\b") == "a\\b"  # read the same by InfluxDB 1.x and 2.x
    assert escape_tag("end\\") == "end/"  # ambiguous between versions
    assert escape_tag("a\\,b") == "a/\\,b"
    assert series_key("my m", [("b", "2"), ("a", "1"), ("c", None), ("d", "")]) == r"my\ m,a=1,b=2"


def _unescape(text: str) -> str:
    """How InfluxDB 1.x reads a tag value: `\\,`, `\\=`, `\\ ` become the character."""
    out, index = [], 0
    while index < len(text):
        if text[index] == "\\" and index + 1 < len(text) and text[index + 1] in ", =":
            out.append(text[index + 1])
            index += 2
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts, current, index = [], [], 0
    while index < len(text):
        if text[index] == "\\" and index + 1 < len(text):
            current.append(text[index : index + 2])
            index += 2
        elif text[index] == separator:
            parts.append("".join(current))
            current = []
            index += 1
        else:
            current.append(text[index])
            index += 1
    parts.append("".join(current))
    return parts


@given(st.text(alphabet=st.sampled_from("ab 中,=\\文x"), min_size=1, max_size=12))
def test_any_compartment_name_survives_a_parse(name: str) -> None:
    """Series key -> split on unescaped separators -> unescape: the name comes back (with an
    ambiguous backslash turned into '/')."""
    line = encoder(name).line(StoredReading(1, Reading("208601", AT, ProbeStatus.STALE)))
    series = _split_unescaped(line, " ")[0]
    tags = dict(part.split("=", 1) for part in _split_unescaped(series, ",")[1:])
    # `split("=", 1)` is safe: keys have no "=" and an escaped "=" in a value follows a "\\".
    raw = next(part for part in _split_unescaped(series, ",") if part.startswith("compartment="))
    value = _unescape(raw.removeprefix("compartment="))
    expected = "".join(
        "/" if ch == "\\" and (i + 1 == len(name) or name[i + 1] in "\\ ,=") else ch
        for i, ch in enumerate(name)
    )
    assert value == expected
    assert tags["probe"] == "208601"


def test_points_from_a_configured_gateway_carry_its_region() -> None:
    settings = load_settings(Path(__file__).resolve().parents[2] / "config" / "demo.toml")
    encoder = LineEncoder(identity_from_settings(settings))
    at = datetime(2026, 10, 1, tzinfo=UTC)
    line = encoder.line(StoredReading(1, Reading("208601", at, ProbeStatus.OK, 4.5)))
    assert line.startswith(
        "coldchain,compartment=冷藏,fridge=F1,gateway=10001,kind=refrigerated,probe=208601,"
        "region=610102,unit=6101030203 temperature=4.5"
    )


def test_a_backlog_batch_is_encoded_from_the_stores_rows_as_from_readings(tmp_path: Path) -> None:
    """The backlog's path (straight from SQLite's rows) writes the very lines `line` writes:
    missing fields, every status, an unsynchronised clock, an integral temperature, a probe
    not configured; a slice of the rows stays rows."""
    readings = [
        Reading("208601", AT, ProbeStatus.OK, 4.5, 55.0, 3.1),
        Reading("208601", AT, ProbeStatus.OK, 3.0),
        Reading("208601", AT, ProbeStatus.OK, -0.1, None, 2.9, clock_synced=False),
        Reading("208601", AT, ProbeStatus.DISCONNECTED, None, None, 3.0),
        Reading("999", AT, ProbeStatus.BUS_ERROR, clock_synced=False),
        Reading("208601", AT, ProbeStatus.STALE, None, 12.5),
    ]
    lines = encoder()
    with ReadingStore(tmp_path / "r.sqlite3") as store:
        store.write_batch(readings)
        rows = store.rows_after(0, 100)
        assert len(rows) == len(readings)
        assert lines.encode(rows) == "\n".join(lines.line(item) for item in rows).encode()
        assert lines.encode(rows[2:4]) == lines.encode(store.readings_after(2, 2))
        assert [item.seq for item in rows[1:3]] == [2, 3]
        assert rows[1].reading == readings[1]


# -- the cached paths write the bytes of the plain encoder ------------------------------------

TRICKY_NAMES = ["upper shelf, left", "a=b", "冷藏 室", "end\\", "a\\,b", "two\nlines\t", "x\\\\y"]
TRICKY_VALUES = [
    -0.0,
    0.0,
    4.0,
    -40.0,
    0.1 + 0.2,
    -273.15,
    123456789.123456789,
    1e15,
    1e16,
    1e22,
    0.0001,
    9.9e-05,
    1e-05,
    5e-324,
    1.7976931348623157e308,
]


def _reference_line(identity: Identity, item: StoredReading) -> str:
    """A line as the encoder wrote it before it cached field texts: one f-string and one repr
    per field, joined by commas."""
    reading = item.reading
    tags = identity.of(reading.probe)
    key = series_key(
        "coldchain",
        [
            ("unit", identity.unit),
            ("region", identity.region),
            ("gateway", identity.gateway),
            ("fridge", tags.fridge),
            ("compartment", tags.compartment),
            ("kind", tags.kind),
            ("probe", reading.probe),
        ],
    )
    fields = [
        f"{name}={float(value)!r}"
        for name, value in [
            ("temperature", reading.temperature),
            ("humidity", reading.humidity),
            ("battery", reading.battery),
        ]
        if value is not None
    ]
    fields.append(f"status={STATUS_CODES[reading.status]}i")
    if not reading.clock_synced:
        fields.append("clock_synced=0i")
    return f"{key} {','.join(fields)} {to_millis(reading.taken_at)}"


def _reference(identity: Identity, batch: Sequence[StoredReading]) -> bytes:
    return "\n".join(_reference_line(identity, item) for item in batch).encode()


def _tricky_identity() -> Identity:
    tags = {
        f"P{i}": ProbeTags(f"F {i},{name}", name, "refrigerated")
        for i, name in enumerate(TRICKY_NAMES)
    }
    tags["探头 =1"] = ProbeTags("冰箱\\", "冷冻,室", "frozen")
    return Identity("33=01 02", "100\\01", tags, region="区,1")


def _tricky_readings() -> list[Reading]:
    probes = [*(f"P{i}" for i in range(len(TRICKY_NAMES))), "探头 =1", "not configured"]
    readings = [
        Reading(probe, AT, ProbeStatus.OK, value, value, value, clock_synced=i % 2 == 0)
        for i, (probe, value) in enumerate(zip(probes * 3, TRICKY_VALUES, strict=False))
    ]
    readings += [
        Reading(probe, AT, status, None, humidity, None, clock_synced=synced)
        for probe in probes[-2:]
        for status in ProbeStatus
        if status is not ProbeStatus.OK
        for humidity in (None, -0.0, 12.5)
        for synced in (True, False)
    ]
    return readings


def test_the_stores_rows_encode_to_the_plain_encoders_bytes(tmp_path: Path) -> None:
    """Tags with spaces, commas, equals signs, Chinese, backslashes and newlines; negative
    zero, integral, huge, tiny and long floats; every status, clock synchronised or not, a time
    corrected: the backlog's path writes the bytes of the plain encoder, read back apart."""
    identity = _tricky_identity()
    readings = _tricky_readings()
    with ReadingStore(tmp_path / "r.sqlite3") as store:
        store.write_batch(readings)
        store.correct_times([(2, AT)])
        rows = store.rows_after(0, 1000)
        expected = _reference(identity, store.readings_after(0, 1000))
    lines = LineEncoder(identity)
    assert lines.encode(rows) == expected
    assert lines.encode(list(rows)) == expected
    assert lines.encode(rows) == expected  # again, the probes' series keys built already


def _as_rows(items: Sequence[StoredReading]) -> StoredRows:
    """The store's rows of `items`, made by hand (SQLite keeps no -0.0, for one)."""
    codes = sorted({item.reading.probe for item in items})
    raw: list[Row] = [
        (
            item.seq,
            codes.index(item.reading.probe),
            to_millis(item.reading.taken_at),
            item.reading.temperature,
            item.reading.humidity,
            item.reading.battery,
            row_flags(
                STATUS_CODES[item.reading.status], item.reading.clock_synced, item.time_corrected
            ),
        )
        for item in items
    ]
    by_seq = {item.seq: item for item in items}
    return StoredRows(raw, lambda row: by_seq[row[0]], codes.__getitem__)


def test_negative_zero_keeps_its_sign_beside_zero() -> None:
    """0.0 and -0.0 are one dict key: neither is taken for the other."""
    identity = _tricky_identity()
    batch = [
        StoredReading(seq, Reading("P0", AT, ProbeStatus.OK, value, -value))
        for seq, value in enumerate([0.0, -0.0, 0.0, -0.0], 1)
    ]
    lines = LineEncoder(identity)
    encoded = lines.encode(_as_rows(batch))
    assert encoded == lines.encode(batch) == _reference(identity, batch)
    assert b"temperature=-0.0,humidity=0.0," in encoded


_values = st.none() | st.floats(allow_nan=False, allow_infinity=False)


@given(
    st.text(alphabet=st.sampled_from("ab 中,=\\文x\n"), min_size=1, max_size=8),
    st.lists(
        st.tuples(
            st.sampled_from(list(ProbeStatus)),
            st.floats(allow_nan=False, allow_infinity=False),
            _values,
            _values,
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=20,
    ),
)
def test_any_row_encodes_to_the_plain_encoders_bytes(
    name: str, rows: list[tuple[ProbeStatus, float, float | None, float | None, bool, bool]]
) -> None:
    identity = Identity("3301020001", "10001", {"208601": ProbeTags(name, name, "frozen")})
    items = [
        StoredReading(
            seq,
            Reading(
                "208601" if seq % 3 else name,
                AT,
                status,
                temperature if status is ProbeStatus.OK else None,
                humidity,
                battery,
                clock_synced=synced,
            ),
            corrected,
        )
        for seq, (status, temperature, humidity, battery, synced, corrected) in enumerate(rows)
    ]
    lines = LineEncoder(identity)
    expected = _reference(identity, items)
    assert lines.encode(_as_rows(items)) == expected
    assert lines.encode(items) == expected
