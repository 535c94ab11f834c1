"""Bytes written to the SD card per day: 20 probes, one reading a minute, the real store and
recorder on a FakeClock (a simulated day takes about a minute).

A poll round reads the probes one after another (`--gap-s` apart, as an RS-485 bus does), so
one round lands in one or a few of the recorder's flushes. The kernel writes dirty pages back
about every 30 s; the simulation compresses time, so that writeback is imitated by an fsync of
every file of the data folder each 30 simulated seconds. Figures, from /proc/self/io:

- write calls and wchar: what SQLite handed to write(2) (an upper bound of the card's load);
- write_bytes: page-cache pages this process dirtied between writebacks (the WAL, the database
  and the memory-mapped -shm index), i.e. what the kernel sent to the card.

Each variant sets SQLite's checkpoint settings on the store's connection (to compare them with
what `gateway.storage.sqlite_file` ships) or the recorder's flush interval.

Run: python -m bench.sd_card_writes [--hours 24]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gateway.core.clock import FakeClock
from gateway.readings.recorder import Recorder
from gateway.settings import StoreSettings
from gateway.storage.readings import ReadingStore
from probes.reading import ProbeStatus, Reading

WRITEBACK_S = 30.0


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    pragmas: tuple[str, ...] = ()
    flush_interval_s: float = StoreSettings().flush_interval_s
    page_size: int | None = None


VARIANTS = (
    Variant("as shipped"),
    Variant("wal_autocheckpoint=100", ("wal_autocheckpoint=100",)),
    Variant("wal_autocheckpoint=4000", ("wal_autocheckpoint=4000",)),
    Variant("wal_autocheckpoint=10000", ("wal_autocheckpoint=10000", "journal_size_limit=0")),
    Variant("[store] flush_interval_s=1", flush_interval_s=1.0),
    Variant("page_size=2048 (new file)", page_size=2048),
    Variant("page_size=4096 (SQLite's default)", page_size=4096),
)


@dataclass(frozen=True, slots=True)
class Figures:
    readings: int
    commits: int
    write_calls: int
    wchar: int
    write_bytes: int
    files: int


def proc_io() -> dict[str, int]:
    lines = Path("/proc/self/io").read_text(encoding="ascii").splitlines()
    return {key: int(value) for key, value in (line.split(": ") for line in lines)}


async def poll(recorder: Recorder, clock: FakeClock, probes: int, gap_s: float) -> None:
    """One reading per probe a minute, `gap_s` apart within the round."""
    codes = [f"2086{index:02d}" for index in range(probes)]
    round_no = 0
    while True:
        for index, code in enumerate(codes):
            temperature = 4.0 + ((round_no + index) % 30) / 10
            await recorder.put(Reading(code, clock.now(), ProbeStatus.OK, temperature, 55.0, 3.1))
            await clock.sleep(gap_s)
        await clock.sleep(60.0 - gap_s * probes)
        round_no += 1


def write_back(folder: Path) -> None:
    """What the kernel's flusher does with dirty pages every 30 s, for every file."""
    for path in folder.iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def files_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.iterdir())


async def writeback(folder: Path, clock: FakeClock) -> None:
    while True:
        await clock.sleep(WRITEBACK_S)
        write_back(folder)


async def simulate(
    folder: Path, variant: Variant, hours: float, probes: int, gap_s: float
) -> Figures:
    clock = FakeClock()
    path = folder / "readings.sqlite3"
    if variant.page_size is not None:  # fixed when the file is created, before WAL mode
        with contextlib.closing(sqlite3.connect(path)) as new:
            new.execute(f"PRAGMA page_size={variant.page_size}")
            new.execute("PRAGMA journal_mode=WAL")
    with ReadingStore(path) as store:
        connection = store._file.connection  # the variant's settings, on the real store
        for pragma in variant.pragmas:
            connection.execute(f"PRAGMA {pragma}")
        recorder = Recorder(store, clock, StoreSettings(flush_interval_s=variant.flush_interval_s))
        before = proc_io()
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(recorder.run(), name="recorder"),
                group.create_task(poll(recorder, clock, probes, gap_s), name="poll"),
                group.create_task(writeback(folder, clock), name="writeback"),
            ]
            step = 600.0
            for _ in range(int(hours * 3600 / step)):
                await clock.advance(step)
            for task in tasks:
                task.cancel()
        write_back(folder)
        after = proc_io()
        stats = recorder.stats()
    return Figures(
        readings=stats.written,
        commits=stats.batches,
        write_calls=after["syscw"] - before["syscw"],
        wchar=after["wchar"] - before["wchar"],
        write_bytes=after["write_bytes"] - before["write_bytes"],
        files=files_size(folder),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=24.0, help="simulated time per variant")
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--gap-s", type=float, default=0.05, help="between readings of a round")
    parser.add_argument("--dir", type=Path, help="a folder on the disk to measure (default: temp)")
    parser.add_argument("--only", default="", help="run the variants whose name contains this")
    args = parser.parse_args()
    per_day = 24 / args.hours
    print(
        f"{args.probes} probes, 1 reading/min, {args.gap_s * 1000:.0f} ms apart in a round,"
        f" {args.hours:g} h simulated per variant; figures per day"
    )
    header = ("variant", "readings", "commits", "write calls", "wchar MB", "written MB", "files MB")
    print(f"{header[0]:<26}" + "".join(f"{title:>12}" for title in header[1:]))
    for variant in (variant for variant in VARIANTS if args.only in variant.name):
        with tempfile.TemporaryDirectory(dir=args.dir) as folder:
            figures = asyncio.run(
                simulate(Path(folder), variant, args.hours, args.probes, args.gap_s)
            )
        cells = (
            f"{figures.readings * per_day:,.0f}",
            f"{figures.commits * per_day:,.0f}",
            f"{figures.write_calls * per_day:,.0f}",
            f"{figures.wchar * per_day / 1e6:.1f}",
            f"{figures.write_bytes * per_day / 1e6:.1f}",
            f"{figures.files / 1e6:.2f}",
        )
        print(f"{variant.name:<26}" + "".join(f"{cell:>12}" for cell in cells))


if __name__ == "__main__":
    main()
