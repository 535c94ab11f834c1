"""Property: any readings, written in any batches, read back equal and in seq order."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.storage.readings import ReadingStore
from probes.reading import ProbeStatus, Reading

values = st.floats(allow_nan=False, allow_infinity=False, width=64) | st.none()
moments = st.datetimes(
    min_value=datetime(1971, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))


@st.composite
def readings(draw: st.DrawFn) -> Reading:
    status = draw(st.sampled_from(ProbeStatus))
    temperature = (
        draw(st.floats(allow_nan=False, allow_infinity=False)) if status is ProbeStatus.OK else None
    )
    return Reading(
        probe=draw(st.sampled_from(["208601", "208602", "BLE-A4C1", "探头-1"])),
        taken_at=draw(moments),
        status=status,
        temperature=temperature,
        humidity=draw(values),
        battery=draw(values),
        clock_synced=draw(st.booleans()),
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(readings(), max_size=20), max_size=6))
def test_batches_read_back_equal_in_seq_order(batches: list[list[Reading]]) -> None:
    with tempfile.TemporaryDirectory() as folder, ReadingStore(Path(folder, "p.db")) as store:
        for batch in batches:
            store.write_batch(batch)
        written = [reading for batch in batches for reading in batch]
        back = store.readings_after(0, limit=1000)
        assert [item.reading for item in back] == written
        assert [item.seq for item in back] == list(range(1, len(written) + 1))
        for probe in {reading.probe for reading in written}:
            by_probe = [item for item in back if item.reading.probe == probe]
            by_probe.sort(key=lambda item: (item.reading.taken_at, item.seq))
            assert store.readings(probe, limit=1000) == by_probe
