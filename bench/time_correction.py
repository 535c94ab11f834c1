"""Correcting the readings stamped before the clock synchronised: how long it takes and how
long it blocks the event loop at most (the correction yields between chunks).

Run: python -m bench.time_correction [--probes P] [--hours H ...]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.core.clock import FakeClock
from gateway.readings.clock_sync import READINGS, ClockSync
from gateway.storage.readings import ReadingStore
from probes.reading import ProbeStatus, Reading

BOOT = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(days=300)


class Kernel:
    synced = False

    def __call__(self) -> bool:
        return self.synced


async def longest_gap(stop: asyncio.Event, gaps: list[float]) -> None:
    """The longest time between two turns of the event loop while the correction runs."""
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


async def one(folder: Path, probes: int, hours: float) -> tuple[int, float, float]:
    clock = FakeClock(BOOT)
    kernel = Kernel()
    with ReadingStore(folder / f"r-{hours}.sqlite3") as store:
        sync = ClockSync(clock, kernel, service=lambda: True)
        sync.track(READINGS, store)
        rounds = int(hours * 60)
        for minute in range(rounds):
            at = BOOT + timedelta(minutes=minute)
            store.write_batch(
                [
                    Reading(f"P{index}", at, ProbeStatus.OK, 4.0, clock_synced=False)
                    for index in range(probes)
                ]
            )
        await clock.advance(rounds * 60.0)
        clock.jump_wall(STEP)
        kernel.synced = True
        stop = asyncio.Event()
        gaps: list[float] = []
        watcher = asyncio.create_task(longest_gap(stop, gaps), name="gap-watcher")
        started = time.perf_counter()
        await sync.check()
        took = time.perf_counter() - started
        stop.set()
        await watcher
        report = sync.last_correction
        corrected = 0 if report is None else report.corrected[READINGS]
        return corrected, took, max(gaps, default=0.0)


async def main(probes: int, hours: list[float]) -> None:
    columns = ("hours unsynced", "rows", "corrected in s", "rows/s", "max block ms")
    widths = (15, 9, 15, 10, 13)
    print(" ".join(f"{name:>{width}}" for name, width in zip(columns, widths, strict=True)))
    with tempfile.TemporaryDirectory() as folder:
        for span in hours:
            rows, took, block = await one(Path(folder), probes, span)
            cells = (
                f"{span:g}",
                f"{rows:,}",
                f"{took:.2f}",
                f"{rows / took:,.0f}",
                f"{block * 1e3:.1f}",
            )
            print(" ".join(f"{cell:>{width}}" for cell, width in zip(cells, widths, strict=True)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probes", type=int, default=24)
    parser.add_argument("--hours", type=float, nargs="+", default=[1, 24, 72])
    args = parser.parse_args()
    asyncio.run(main(args.probes, args.hours))
