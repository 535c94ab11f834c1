"""County report benchmark: 100 probes x 30 days x one reading a minute (4.32 M points).

Starts influxd (tests/servers.py) in a temp dir, writes November 2026 for 50 fridges
(冷藏 + 冷冻 each) in 5 regions as gzip line-protocol batches over v1 /write (several in flight),
then runs the report in a child process (`--report-only`) so that its peak memory
(`bench.peak_memory`) is the report's alone, and prints a plain table.

Run: python -m bench.county_report [--probes 100] [--days 30] [--batch 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import aiohttp

from bench.peak_memory import peak_rss_kb
from gateway.core.clinic_time import CLINIC_TZ
from tests.servers import Influxd

MONTH = "2026-11"
START_MS = int(datetime(2026, 11, 1, tzinfo=CLINIC_TZ).timestamp() * 1000)
MINUTE = 60_000


def probe_lines(index: int, days: int) -> Iterator[str]:
    """One probe's month: a compressor sawtooth, a 3-hour warm excursion on day (index % 28)
    for refrigerated probes, and a 30-minute gap every 10th day."""
    fridge, frozen = divmod(index, 2)
    region = f"6101{fridge % 5:02d}"
    unit = f"{region}{fridge // 2:04d}"
    kind, compartment = ("frozen", "冷冻") if frozen else ("refrigerated", "冷藏")
    prefix = (
        f"coldchain,compartment={compartment},fridge=F{fridge % 2},gateway={10000 + fridge // 2},"
        f"kind={kind},probe={208000 + index},region={region},unit={unit} "
    )
    low, high = (-22.0, -18.0) if frozen else (3.5, 6.0)
    excursion_day = index % 28
    for minute in range(days * 1440):
        day, in_day = divmod(minute, 1440)
        if day % 10 == 9 and 600 <= in_day < 630:
            continue
        phase = (minute + index * 7) % 40 / 40
        value = low + (high - low) * phase
        if not frozen and day == excursion_day and 120 <= in_day < 300:
            value = 9.0 + math.sin(in_day / 10)
        yield f"{prefix}temperature={value:.2f},status=0i {START_MS + minute * MINUTE}"


def all_lines(probes: int, days: int) -> Iterator[str]:
    for index in range(probes):
        yield from probe_lines(index, days)


async def load(url: str, probes: int, days: int, batch: int, parallel: int = 4) -> int:
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=parallel * 2)
    written = 0

    async def writer(session: aiohttp.ClientSession) -> None:
        while (body := await queue.get()) is not None:
            async with session.post(
                f"{url}/write?db=coldchain&precision=ms",
                data=body,
                headers={"Content-Encoding": "gzip"},
            ) as response:
                if response.status != 204:
                    raise RuntimeError(f"write failed: {response.status} {await response.text()}")

    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(writer(session)) for _ in range(parallel)]
        chunk: list[str] = []
        for line in all_lines(probes, days):
            chunk.append(line)
            if len(chunk) >= batch:
                written += len(chunk)
                await queue.put(gzip.compress("\n".join(chunk).encode(), compresslevel=1))
                chunk = []
        if chunk:
            written += len(chunk)
            await queue.put(gzip.compress("\n".join(chunk).encode(), compresslevel=1))
        for _ in tasks:
            await queue.put(None)
        await asyncio.gather(*tasks)
    return written


async def report_only(url: str, out: Path, interval_s: float) -> None:
    from analysis.county import CountyOptions, county_report
    from analysis.csv_out import write_csvs
    from analysis.html import write_html
    from analysis.influxql import InfluxQL

    async with InfluxQL(url, "coldchain") as client:
        report = await county_report(client, CountyOptions(MONTH, interval_s=interval_s))
    write_html(report, out / f"report-{MONTH}.html")
    write_csvs(report, out)
    rows = report.rows
    print(
        f"{len(rows['compartment'])} {len(rows['clinic'])} "
        f"{sum(r.stats.ok for r in rows['compartment'])} {peak_rss_kb()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--report-only", metavar="URL")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.report_only:
        asyncio.run(report_only(args.report_only, args.out, 60.0))
        return
    with tempfile.TemporaryDirectory() as folder:
        server = Influxd.create(Path(folder) / "influxd")
        server.start()
        try:
            server.create_db("coldchain")
            started = time.monotonic()
            points = asyncio.run(load(server.url, args.probes, args.days, args.batch))
            load_s = time.monotonic() - started
            started = time.monotonic()
            child = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.county_report",
                    "--report-only",
                    server.url,
                    "--out",
                    str(Path(folder) / "out"),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            report_s = time.monotonic() - started
            compartments, clinics, readings, peak_kb = child.stdout.split()[-4:]
            peak_mb = int(peak_kb) / 1024
            html_kb = (Path(folder) / "out" / f"report-{MONTH}.html").stat().st_size / 1024
        finally:
            server.stop()
    rows = [
        ("points written", f"{points:,}"),
        (f"write time (gzip batches of {args.batch})", f"{load_s:.1f} s"),
        ("write rate", f"{points / load_s:,.0f} points/s"),
        ("probes / clinics in report", f"{compartments} / {clinics}"),
        ("ok readings folded", f"{int(readings):,}"),
        ("report time (query + fold + HTML + CSV)", f"{report_s:.1f} s  (target < 60 s)"),
        ("report peak RSS (the child's own)", f"{peak_mb:.0f} MB  (target < 500 MB)"),
        ("HTML size", f"{html_kb:.0f} kB"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'county report benchmark'.ljust(width)}  value")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
