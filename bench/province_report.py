"""Province benchmark: the monthly report of 3,000 clinics from daily figures, on both engines.

Starts VictoriaMetrics and influxd (tests/servers.py) in a temp dir and measures:

1. **Daily figures**: one month (October 2026) of `coldchain_daily` points for 3,000 clinics x 4
   compartments (as `gateway.forward.daily_figures` encodes them), plus alarm events (two
   alarms per clinic: opened, tier 1, acknowledged) and exposure events (one clinic in ten),
   loaded into both engines; then the county report from them in a child process per engine
   (report time = query + fold + HTML + CSV, wall clock and the child's own CPU seconds, which
   tell what a loaded machine hides; peak memory = the child's own, `bench.peak_memory`). The
   bytes each clinic's day takes: line protocol as sent (plain and gzip) and on each engine's
   disk.
2. **Raw points for one county**: 100 clinics x 4 compartments x one reading a minute for the
   month (17.9 M points) into influxd, and the raw-point report's time over them.
3. **Live ingest**: 3,000 simulated gateways each posting one poll (4 readings) a minute, as
   fast as the engine takes them (64 connections): requests and points per second, against
   the 50 requests (200 points) per second a province needs.

Each report row gives the wall clock, the load average then, the CPU seconds of the report and
of the engine's server process during it, and what 2 idle cores would need at best
(max(report, (report + server) / 2): the report folds on one core while the server works).

Run: python -m bench.province_report [--clinics 3000] [--county-clinics 100] [--ticks 5]
(`--county-clinics 0`: the daily figures only, without the raw county and the live ingest;
`--clinics 0`: the raw county only, e.g. `--clinics 0 --county-clinics 10` while working on it)
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import psutil

from analysis.metrics import SeriesStats, mkt_weight
from analysis.period import month_bounds
from bench.peak_memory import peak_rss_kb
from gateway.forward.alarm_events import AlarmEvent, alarm_event_line
from gateway.forward.daily_figures import DayFigures, daily_lines
from gateway.forward.exposure_events import ExposureEvent, exposure_event_line
from gateway.forward.tags import Identity, ProbeTags
from gateway.storage.readings import from_millis
from tests.servers import Influxd, Server, VictoriaMetrics, http

MONTH = "2026-10"
START, END = month_bounds(MONTH)
DAY = 86_400_000
MINUTE = 60_000
DB = "coldchain"
COMPARTMENTS = {
    "P1": ProbeTags("F1", "冷藏室", "refrigerated"),
    "P2": ProbeTags("F1", "冷冻室", "frozen"),
    "P3": ProbeTags("F2", "冷藏室", "refrigerated"),
    "P4": ProbeTags("F3", "冷藏室", "refrigerated"),
}


def identity(clinic: int) -> Identity:
    region = f"61{clinic // 100:04d}"
    return Identity(f"{region}{clinic % 100:04d}", str(10_000 + clinic), COMPARTMENTS, region)


def _day(rng: random.Random, frozen: bool, day_ms: int) -> SeriesStats:
    """A plausible day: a few missed readings, now and then a warm spell."""
    ok = 1440 - rng.choice((0, 0, 0, 1, 2, 30))
    base = -20.0 if frozen else 5.0
    warm = 0 if frozen or rng.random() > 0.02 else rng.randrange(10, 200)
    covered = ok * MINUTE
    return SeriesStats(
        expected=1440, ok=ok, faults=rng.choice((0, 0, 0, 1)), covered_ms=covered,
        above_ms=warm * MINUTE, excursions_above=1 if warm else 0,
        min_c=base - 1.5, min_at=day_ms + rng.randrange(DAY),
        max_c=base + (4.5 if warm else 1.5), max_at=day_ms + rng.randrange(DAY),
        sum_c=ok * base, mkt_weight_ms=covered, mkt_sum=covered * mkt_weight(base),
    )  # fmt: skip


def daily_bodies(clinics: int) -> Iterator[str]:
    """Each clinic's month of daily figures (one body a clinic), alarm and exposure events."""
    rng = random.Random(20)
    days = range(START, END, DAY)
    for clinic in range(clinics):
        who = identity(clinic)
        figures = [
            DayFigures(probe, day, _day(rng, tags.kind == "frozen", day))
            for day in days
            for probe, tags in COMPARTMENTS.items()
        ]
        lines = [daily_lines(figures, who).decode()]
        for number in range(2):
            opened = from_millis(START + rng.randrange(END - START - DAY))
            alarm = f"{who.gateway}-{number}"
            for event, delay, tier, person in (
                ("opened", 0, None, None),
                ("tier_notified", 0, 1, None),
                ("acknowledged", rng.randrange(5, 90), None, "p-li"),
            ):
                lines.append(
                    alarm_event_line(
                        AlarmEvent(
                            number, alarm, "too_warm", event,
                            opened + timedelta(minutes=delay), "F1", "冷藏室", "P1", tier,
                            person, 9.0, number + 1,
                        ),
                        who,
                    )
                )  # fmt: skip
        if clinic % 10 == 0:
            exposure = ExposureEvent(
                1, f"x-{clinic}", "F1", "冷藏室", "0201", from_millis(START + 5 * DAY),
                20, 2, 45.0, 0.0, 9.5, 5.0,
            )  # fmt: skip
            lines.append(exposure_event_line(exposure, who))
        yield "\n".join(lines)


def day_body_bytes(days: int = 31) -> tuple[float, float]:
    """A clinic's day as one gateway body (its 4 probes): plain and gzip bytes, averaged."""
    rng, who = random.Random(1), identity(0)
    plain = packed = 0
    for day in range(START, START + days * DAY, DAY):
        figures = [
            DayFigures(probe, day, _day(rng, tags.kind == "frozen", day))
            for probe, tags in COMPARTMENTS.items()
        ]
        body = daily_lines(figures, who)
        plain += len(body)
        packed += len(gzip.compress(body))
    return plain / days, packed / days


def raw_bodies(clinics: int, batch: int = 20_000) -> Iterator[str]:
    """One county's month of minute readings (a compressor sawtooth), in batches of lines."""
    chunk: list[str] = []
    for clinic in range(clinics):
        who = identity(clinic)
        for index, (probe, tags) in enumerate(COMPARTMENTS.items()):
            prefix = (
                f"coldchain,compartment={tags.compartment},fridge={tags.fridge},"
                f"gateway={who.gateway},kind={tags.kind},probe={probe},region={who.region},"
                f"unit={who.unit} "
            )
            low = -22.0 if tags.kind == "frozen" else 3.5
            for t in range(START, END, MINUTE):
                value = low + ((t // MINUTE + index * 7) % 40) / 16
                chunk.append(f"{prefix}temperature={value:.2f},status=0i {t}")
                if len(chunk) >= batch:
                    yield "\n".join(chunk)
                    chunk = []
    if chunk:
        yield "\n".join(chunk)


async def post_all(url: str, bodies: Iterator[str], parallel: int = 4) -> tuple[int, int, int]:
    """Gzip and POST every body; (lines, plain bytes, gzip bytes)."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=parallel * 2)
    lines = plain = packed = 0

    async def writer(session: aiohttp.ClientSession) -> None:
        while (body := await queue.get()) is not None:
            headers = {"Content-Encoding": "gzip"}
            async with session.post(url, data=body, headers=headers) as response:
                if response.status not in (200, 204):
                    raise RuntimeError(f"write failed: {response.status} {await response.text()}")

    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(writer(session)) for _ in range(parallel)]
        for text in bodies:
            raw = text.encode()
            body = gzip.compress(raw, compresslevel=1)
            lines += text.count("\n") + 1
            plain += len(raw)
            packed += len(body)
            await queue.put(body)
        for _ in tasks:
            await queue.put(None)
        await asyncio.gather(*tasks)
    return lines, plain, packed


async def live_ingest(url: str, gateways: int, ticks: int, connections: int = 64) -> float:
    """Seconds to take `ticks` polls of every gateway, one request each (4 readings)."""
    bodies = []
    for clinic in range(gateways):
        who = identity(clinic)
        bodies.append(
            [
                f"coldchain,fridge={tags.fridge},gateway={who.gateway},kind={tags.kind},"
                f"probe={probe},region={who.region},unit={who.unit} temperature=5.0,status=0i"
                for probe, tags in COMPARTMENTS.items()
            ]
        )
    limit = asyncio.Semaphore(connections)
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(lines: list[str], t: int) -> None:
            async with limit, session.post(url, data="\n".join(f"{x} {t}" for x in lines)) as r:
                if r.status not in (200, 204):
                    raise RuntimeError(f"write failed: {r.status} {await r.text()}")

        started = time.monotonic()
        for tick in range(ticks):
            t = START + tick * MINUTE
            await asyncio.gather(*(post(lines, t) for lines in bodies))
        return time.monotonic() - started


def du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


async def report_only(engine: str, url: str, out: Path) -> None:
    from analysis.county import CountyOptions, county_daily_report, county_report, daily_report
    from analysis.csv_out import write_csvs
    from analysis.html import write_html
    from analysis.influxql import InfluxQL

    options = CountyOptions(MONTH)
    if engine == "vm":
        from analysis import victoria
        from analysis.alarm_events import fold_alarms
        from analysis.county import ACK_GRACE_MS

        fold = await victoria.fold_daily(url, START, END, (END - START) // MINUTE)
        events = await victoria.alarm_events(url, START, END + ACK_GRACE_MS)
        alarms = fold_alarms(events, START, END)
        report = daily_report(fold, options, alarms, await victoria.exposures(url, START, END))
    else:
        async with InfluxQL(url, engine) as client:
            make = county_report if engine == "raw" else county_daily_report
            report = await make(client, options)
    write_html(report, out / f"report-{MONTH}.html")
    write_csvs(report, out)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(f"{len(report.rows['clinic'])} {peak_rss_kb() / 1024:.0f} {cpu:.2f}")


def child_report(engine: str, url: str, out: Path, server: Server) -> ChildReport:
    """The report in a child process; its wall clock, and the CPU seconds it and the engine's
    server spent meanwhile (on a loaded machine the wall clock says little; the CPU seconds
    say what an idle one would wait for)."""
    assert server.process is not None
    engine_cpu = psutil.Process(server.process.pid)
    before = sum(engine_cpu.cpu_times()[:2])
    started = time.monotonic()
    child = subprocess.run(
        [sys.executable, "-m", "bench.province_report", "--report-only", engine, url,
         "--out", str(out)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.monotonic() - started
    clinics, peak, cpu = child.stdout.split()[-3:]
    server_cpu = sum(engine_cpu.cpu_times()[:2]) - before
    return ChildReport(wall, int(clinics), float(peak), float(cpu), server_cpu)


@dataclass(frozen=True)
class ChildReport:
    wall_s: float
    clinics: int
    peak_mb: float
    cpu_s: float
    server_cpu_s: float

    @property
    def idle_estimate_s(self) -> float:
        """The wall clock on 2 idle cores, at best: the report runs on one core, the server
        beside it, and both need their CPU seconds."""
        return max(self.cpu_s, (self.cpu_s + self.server_cpu_s) / 2)

    def cpu_text(self, server: str) -> str:
        return (
            f"{self.wall_s:.1f} s wall (load {os.getloadavg()[0]:.1f}); CPU: report "
            f"{self.cpu_s:.1f} s + {server} {self.server_cpu_s:.1f} s; on 2 idle cores "
            f"~{self.idle_estimate_s:.0f} s"
        )


WIDTH = 56


def show(name: str, value: str) -> None:
    """One row of the table, printed as soon as it is measured."""
    print(f"{name:<{WIDTH}}  {value}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clinics", type=int, default=3000)
    parser.add_argument("--county-clinics", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--report-only", nargs=2, metavar=("ENGINE", "URL"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.report_only:
        engine, url = args.report_only
        asyncio.run(report_only(engine, url, args.out))
        return
    print(f"{'province report benchmark':<{WIDTH}}  value", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        vm, influxd = VictoriaMetrics.create(root / "vm"), Influxd.create(root / "influxd")
        vm.start()
        influxd.start()
        try:
            influxd.create_db(DB)
            influxd.create_db("raw")
            targets = {
                "VictoriaMetrics": (f"{vm.url}/api/v2/write?bucket={DB}&org=x&precision=ms", vm),
                "InfluxDB 1.x": (f"{influxd.url}/write?db={DB}&precision=ms", influxd),
            }
            if args.clinics:
                province(args.clinics, targets, root)
            if args.county_clinics:
                raw_county(args.county_clinics, influxd, root)
            if args.clinics and args.county_clinics:
                for name, (write_url, _) in targets.items():
                    live = write_url.replace(f"db={DB}", "db=raw")
                    seconds = asyncio.run(live_ingest(live, args.clinics, args.ticks))
                    requests = args.clinics * args.ticks
                    show(
                        f"{name}: live ingest, {args.clinics} gateways x {args.ticks} polls",
                        f"{requests / seconds:,.0f} req/s, {4 * requests / seconds:,.0f} points/s"
                        f"  (needed: {args.clinics / 60:,.0f} req/s)",
                    )
        finally:
            vm.stop()
            influxd.stop()


def province(clinics: int, targets: dict[str, tuple[str, Server]], root: Path) -> None:
    """Daily figures and events into each engine, and the province report from them."""
    clinic_days = clinics * ((END - START) // DAY)
    packed = 0
    for name, (write_url, server) in targets.items():
        engine, url = (
            ("vm", server.url) if isinstance(server, VictoriaMetrics) else (DB, server.url)
        )
        started = time.monotonic()
        lines, _, packed = asyncio.run(post_all(write_url, daily_bodies(clinics)))
        load_s = time.monotonic() - started
        if engine == "vm":
            http("GET", f"{url}/internal/force_flush")
        report = child_report(engine, url, root / f"out-{engine}", server)
        show(f"{name}: daily figures + events loaded", f"{lines:,} in {load_s:.1f} s")
        show(f"{name}: province report ({report.clinics} clinics)", report.cpu_text("engine"))
        show(f"{name}: report peak RSS", f"{report.peak_mb:.0f} MB")
        show(f"{name}: on disk per clinic-day", f"{du(server.folder) / clinic_days:,.0f} B")
    day_plain, day_packed = day_body_bytes()
    show("daily figures per clinic-day, line protocol", f"{day_plain:,.0f} B")
    show("the same, gzip (a day's body, as a gateway sends it)", f"{day_packed:,.0f} B")
    show("the same, gzip (a month's body)", f"{packed / clinic_days:,.0f} B")


def raw_county(clinics: int, influxd: Influxd, root: Path) -> None:
    """One county's minute readings into influxd, and the raw-point report over them."""
    started = time.monotonic()
    raw_write = f"{influxd.url}/write?db=raw&precision=ms"
    points, _, _ = asyncio.run(post_all(raw_write, raw_bodies(clinics)))
    load_s = time.monotonic() - started
    show("raw county: minute readings loaded", f"{points:,} in {load_s:.1f} s")
    report = child_report("raw", influxd.url, root / "out-raw", influxd)
    show(f"raw county: report ({report.clinics} clinics)", report.cpu_text("influxd"))
    show("raw county: report CPU per point", f"{report.cpu_s / points * 1e6:.2f} µs + influxd "
         f"{report.server_cpu_s / points * 1e6:.2f} µs")  # fmt: skip
    show("raw county: report peak RSS", f"{report.peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
