"""ReadingStore: what goes in comes out, seqs only grow, queries select what they say."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

import pytest

from gateway.storage.readings import (
    InvalidReadingError,
    ReadingStore,
    StoredReading,
)
from gateway.storage.registry import READINGS
from gateway.storage.sqlite_file import SqliteFile
from probes.reading import ProbeStatus, Reading

from .support import T0, ok, series, unchecked_nan


def test_every_status_round_trips(store: ReadingStore) -> None:
    readings = [
        Reading("208601", T0, ProbeStatus.OK, -3.25, 61.5, 3.05),
        Reading("208601", T0, ProbeStatus.OK, 4.0),
        *(
            Reading("208602", T0 + timedelta(seconds=i), status, humidity=40.0, battery=None)
            for i, status in enumerate(ProbeStatus)
            if status is not ProbeStatus.OK
        ),
        Reading("208603", T0, ProbeStatus.DISCONNECTED, clock_synced=False),
    ]
    last = store.write_batch(readings)
    back = store.readings_after(0, limit=100)
    assert [item.reading for item in back] == readings
    assert [item.seq for item in back] == list(range(1, len(readings) + 1))
    assert last == len(readings) == store.last_seq() == store.count()
    integral = back[1].reading.temperature
    assert isinstance(integral, float)


def test_times_are_utc_and_truncated_to_the_millisecond(store: ReadingStore) -> None:
    beijing = timezone(timedelta(hours=8))
    taken = datetime(2026, 3, 1, 16, 0, 0, 123_987, tzinfo=beijing)
    store.write_batch([Reading("208601", taken, ProbeStatus.OK, 5.0)])
    [back] = store.readings_after(0, 10)
    assert back.reading.taken_at == taken.replace(microsecond=123_000)
    assert back.reading.taken_at.tzinfo is UTC


def test_seq_is_contiguous_across_batches_and_never_reused_after_prune(
    store: ReadingStore,
) -> None:
    assert store.last_seq() == 0
    assert store.write_batch(series(3)) == 3
    assert store.write_batch(series(2, start=3)) == 5
    assert store.write_batch([]) == 5
    assert store.prune(T0 + timedelta(days=1)) == 5
    assert store.count() == 0
    assert store.last_seq() == 5
    assert store.write_batch(series(1)) == 6
    assert [item.seq for item in store.readings_after(0, 10)] == [6]


def test_seq_survives_reopen_after_pruning_the_newest(db_path: Path) -> None:
    with ReadingStore(db_path) as store:
        store.write_batch(series(4))
        store.prune(T0 + timedelta(days=1))
    with ReadingStore(db_path) as store:
        assert store.write_batch(series(1)) == 5


def test_a_rejected_batch_writes_nothing_and_consumes_no_seq(store: ReadingStore) -> None:
    store.write_batch(series(2))
    bad = unchecked_nan()
    with pytest.raises(InvalidReadingError, match=r"readings\.db"):
        store.write_batch([*series(3), bad])
    assert store.count() == 2
    assert store.write_batch(series(1)) == 3


def test_prune_works_in_bounded_chunks(store: ReadingStore) -> None:
    store.write_batch(series(10, probes=2))
    cutoff = T0 + timedelta(minutes=3)
    assert store.prune(cutoff, limit=4) == 4
    assert store.prune(cutoff, limit=4) == 2
    assert store.prune(cutoff, limit=4) == 0
    assert min(item.reading.taken_at for item in store.readings()) == cutoff


def test_queries_by_probe_and_time_range(store: ReadingStore) -> None:
    store.write_batch(series(30, probes=3))  # P0..P2, minutes 0..9
    got = store.readings("P1", T0 + timedelta(minutes=2), T0 + timedelta(minutes=5))
    assert [(s.reading.probe, s.reading.taken_at) for s in got] == [
        ("P1", T0 + timedelta(minutes=m)) for m in (2, 3, 4)
    ]
    everyone = store.readings(None, T0 + timedelta(minutes=9))
    assert [s.reading.probe for s in everyone] == ["P0", "P1", "P2"]
    assert len(store.readings(limit=7)) == 7
    assert store.readings("unknown") == []
    assert store.readings(until=T0) == []


def test_readings_order_by_time_then_seq(store: ReadingStore) -> None:
    store.write_batch([ok("A", 5), ok("A", 1)])
    store.write_batch([ok("A", 1, 6.0)])
    got = store.readings("A")
    assert [(s.seq, s.reading.taken_at) for s in got] == [
        (2, T0 + timedelta(minutes=1)),
        (3, T0 + timedelta(minutes=1)),
        (1, T0 + timedelta(minutes=5)),
    ]


def test_readings_after_pages_in_seq_order(store: ReadingStore) -> None:
    store.write_batch(series(25, probes=5))
    page = store.readings_after(10, limit=5)
    assert [s.seq for s in page] == [11, 12, 13, 14, 15]
    assert store.readings_after(25, 5) == []


def test_the_backlogs_rows_read_back_as_readings_after(store: ReadingStore) -> None:
    """`rows_after` packs the status and both flags in one column: every status, clock
    synchronised or not, time corrected or not, reads back as `readings_after` reads it."""
    measured = {ProbeStatus.OK: (4.5, 55.0, 3.1)}
    readings = [
        Reading(
            "208601", T0, status, *measured.get(status, (None, 40.0, None)), clock_synced=synced
        )
        for status in ProbeStatus
        for synced in (True, False)
    ]
    store.write_batch(readings)
    store.correct_times([(2, T0 + timedelta(days=1))])
    rows = store.rows_after(0, 100)
    assert list(rows) == store.readings_after(0, 100)
    assert [(item.reading.clock_synced, item.time_corrected) for item in rows[:3]] == [
        (True, False),
        (True, True),
        (True, False),
    ]
    assert [item.reading.status for item in rows] == [r.status for r in readings]
    assert [item.reading.clock_synced for item in rows[3:]] == [
        r.clock_synced for r in readings[3:]
    ]


def test_latest_by_probe_is_the_newest_taken(store: ReadingStore) -> None:
    store.write_batch([ok("A", 3, 3.0), ok("B", 1, 1.0), ok("A", 2, 2.0)])
    latest = store.latest_by_probe()
    assert latest == {
        "A": StoredReading(1, ok("A", 3, 3.0)),
        "B": StoredReading(2, ok("B", 1, 1.0)),
    }


def test_meta_round_trips_and_overwrites(store: ReadingStore, db_path: Path) -> None:
    assert store.get_meta("cursor.influx") is None
    store.set_meta("cursor.influx", "41")
    store.set_meta("cursor.influx", "42")
    store.close()
    with ReadingStore(db_path) as reopened:
        assert reopened.get_meta("cursor.influx") == "42"


def test_file_is_wal_with_schema_version_and_clean(store: ReadingStore, db_path: Path) -> None:
    store.write_batch(series(5))
    store.checkpoint()
    assert store.integrity_check() == "ok"
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == READINGS.schema_version
    raw.close()


@pytest.mark.parametrize(("mode", "level"), [("NORMAL", 1), ("FULL", 2)])
def test_synchronous_setting_is_applied(
    tmp_path: Path, mode: Literal["NORMAL", "FULL"], level: int
) -> None:
    with SqliteFile(tmp_path / "s.db", what="a test file", migrations=(), synchronous=mode) as db:
        assert db.fetch("PRAGMA synchronous") == [(level,)]
        assert db.fetch("PRAGMA journal_mode") == [("wal",)]


def _page_size(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


def test_a_new_store_uses_small_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    new, old = tmp_path / "new.sqlite3", tmp_path / "old.sqlite3"
    with ReadingStore(new) as store:
        store.write_batch([Reading("P1", T0, ProbeStatus.OK, 4.0)])
    assert _page_size(new) == 1024
    with contextlib.closing(sqlite3.connect(old)) as conn:  # as an earlier release made it
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA journal_mode=WAL")
    with ReadingStore(old) as store:
        store.write_batch([Reading("P1", T0, ProbeStatus.OK, 4.0)])
        assert [row.reading.temperature for row in store.readings("P1", None, None, 10)] == [4.0]
    assert _page_size(old) == 4096
