"""Throughput of the reading pipeline on one core: Recorder -> ReadingStore vs bare sqlite3.

Run: python -m bench.store_pipeline [--readings N] [--probes P]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.core.clock import SystemClock
from gateway.readings.recorder import Recorder
from gateway.settings import StoreSettings
from gateway.storage.readings import ReadingStore, to_millis
from gateway.storage.registry import READINGS
from probes.reading import STATUS_CODES, ProbeStatus, Reading


def make_readings(count: int, probes: int) -> list[Reading]:
    """Poll rounds of `probes` readings sharing one timestamp, as a driver produces them."""
    codes = [f"2086{index:04d}" for index in range(probes)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    readings = []
    for index in range(count):
        round_, probe = divmod(index, probes)
        if probe == 0:
            taken_at = start + timedelta(seconds=round_)
        if probe % 50 == 49:
            readings.append(Reading(codes[probe], taken_at, ProbeStatus.DISCONNECTED))
        else:
            readings.append(
                Reading(codes[probe], taken_at, ProbeStatus.OK, 4.0 + (index % 37) / 10, 55.5, 3.1)
            )
    return readings


async def pipeline(path: Path, readings: list[Reading], probes: int) -> tuple[float, float, int]:
    settings = StoreSettings(flush_interval_s=0.25)
    with ReadingStore(path) as store:
        recorder = Recorder(store, SystemClock(), settings)
        writer = asyncio.create_task(recorder.run(), name="recorder")
        wall, cpu = time.perf_counter(), time.process_time()
        submit = recorder.submit
        for start in range(0, len(readings), probes):
            for reading in readings[start : start + probes]:
                if not submit(reading):
                    await recorder.put(reading)
            await asyncio.sleep(0)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        stats = recorder.stats()
        assert stats.written == len(readings), stats
        store.checkpoint()
    return wall, cpu, stats.batches


def bare(path: Path, readings: list[Reading], batch: int) -> tuple[float, float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for statement in READINGS.migrations[0]:
        conn.execute(statement)
    ids = {code: index + 1 for index, code in enumerate(sorted({r.probe for r in readings}))}
    conn.executemany(
        "INSERT INTO probes (id, code) VALUES (?, ?)", [(i, c) for c, i in ids.items()]
    )
    rows = [
        (
            ids[r.probe],
            to_millis(r.taken_at),
            STATUS_CODES[r.status],
            r.temperature,
            r.humidity,
            r.battery,
            r.clock_synced,
        )
        for r in readings
    ]
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(rows), batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO readings (probe_id, taken_at, status, temperature, humidity, battery,"
            " clock_synced) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows[start : start + batch],
        )
        conn.execute("COMMIT")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    conn.close()
    return wall, cpu


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readings", type=int, default=500_000)
    parser.add_argument("--probes", type=int, default=200)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    readings = make_readings(args.readings, args.probes)
    n = len(readings)
    with tempfile.TemporaryDirectory() as folder:
        pipe_path, bare_path = Path(folder, "pipeline.db"), Path(folder, "bare.db")
        p_wall, p_cpu, batches = asyncio.run(pipeline(pipe_path, readings, args.probes))
        b_wall, b_cpu = bare(bare_path, readings, StoreSettings().max_batch)
        opened = time.perf_counter()
        with ReadingStore(pipe_path) as store:  # includes the start-up quick_check
            opened = time.perf_counter() - opened
            count = store.count()
        size = disk_bytes(pipe_path)
    rows = [
        ("readings", f"{n:,}", f"{n:,}"),
        ("probes", str(args.probes), str(args.probes)),
        ("batches", str(batches), str(-(-n // StoreSettings().max_batch))),
        ("wall s", f"{p_wall:.2f}", f"{b_wall:.2f}"),
        ("readings/s", f"{n / p_wall:,.0f}", f"{n / b_wall:,.0f}"),
        ("CPU µs/reading", f"{p_cpu / n * 1e6:.2f}", f"{b_cpu / n * 1e6:.2f}"),
    ]
    print(f"{'':16}{'pipeline':>14}{'bare sqlite3':>14}")
    for label, left, right in rows:
        print(f"{label:16}{left:>14}{right:>14}")
    print(f"pipeline / bare throughput: {b_wall / p_wall:.0%}")
    print(f"bytes on disk per reading: {size / count:.1f} ({size:,} B for {count:,} readings)")
    print(f"reopen with quick_check: {opened * 1000:.0f} ms")


if __name__ == "__main__":
    main()
