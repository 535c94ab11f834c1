"""Backlog drain after a 7-day outage, to VictoriaMetrics (v2 API) and InfluxDB 1.x (v1 /write),
beside each server's own ceiling.

20 probes x 1 reading a minute x 7 days = 201,600 stored, unsent readings. The ceiling: the same
points, encoded and gzipped (at the forwarder's level) beforehand, POSTed straight to a fresh
server one batch at a time. The drain: the forwarder sends them from the store to another fresh
server while a live round of 20 readings arrives every 0.5 s. Prints both, their ratio (the
goal: at most 2), the delay of each live reading (commit request -> server acknowledgement; the
goal: within 2 s), and checks nothing was sent twice (the pump's count of points sent, and
VictoriaMetrics without dedup keeping a duplicate). Ceiling and drain alternate, `--runs` times;
medians printed.

CPU seconds beside the wall times, so that figures taken on a busy machine can be read: the
forwarder's (this process during the drain, every thread: the event loop, gzip's worker thread,
and the bench's own live rounds and polling, which are small) and the server's in each pass
(from /proc). On a machine with few cores the server and the forwarder share them during the
drain, while the ceiling pass leaves the server alone.

Run: python -m bench.forward_drain [--days 7] [--probes 20] [--batch 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import psutil

from bench.cpu import cpu_s, own_cpu_s
from gateway.core.clock import SystemClock
from gateway.forward.influx import GZIP_LEVEL, open_influx_forwarder
from gateway.forward.line_protocol import LineEncoder
from gateway.forward.settings import InfluxSettings
from gateway.forward.tags import Identity, ProbeTags
from gateway.readings.recorder import Recorder
from gateway.settings import StoreSettings
from gateway.storage.readings import ReadingStore, StoredReading
from probes.reading import ProbeStatus, Reading
from tests.servers import Influxd, VictoriaMetrics

START = datetime(2026, 1, 1, tzinfo=UTC)


def server_cpu_s(server: VictoriaMetrics | Influxd) -> float:
    """CPU seconds of the server process so far."""
    assert server.process is not None
    return cpu_s(psutil.Process(server.process.pid))


def identity(probes: int) -> Identity:
    tags = {
        f"2086{i:02d}": ProbeTags(f"F{i // 4}", "冷藏室", "refrigerated") for i in range(probes)
    }
    return Identity("3301020001", "10001", tags)


def backlog(days: int, probes: int) -> list[Reading]:
    out: list[Reading] = []
    for minute in range(days * 1440):
        at = START + timedelta(minutes=minute)
        temperature = 4.0 + (minute % 37) / 10
        out += [
            Reading(f"2086{probe:02d}", at, ProbeStatus.OK, temperature, 55.0, 3.1)
            for probe in range(probes)
        ]
    return out


async def drain(
    settings: InfluxSettings,
    store: ReadingStore,
    ident: Identity,
    probes: int,
    live_start: datetime,
) -> tuple[float, float, list[float], int, int]:
    """Seconds until every stored reading is acknowledged, the CPU seconds this process spent
    meanwhile, each live reading's delay, how many live readings were put, points sent."""
    clock = SystemClock()
    recorder = Recorder(store, clock, StoreSettings(flush_interval_s=0.05))
    put_at: dict[int, float] = {}
    pending_puts: list[float] = []

    def committed(batch: object) -> None:
        for item in batch:  # type: ignore[attr-defined]
            assert isinstance(item, StoredReading)
            if item.reading.taken_at >= live_start and pending_puts:
                put_at[item.seq] = pending_puts.pop(0)

    recorder.subscribe(committed)
    delays: list[float] = []
    live_count = 0
    async with open_influx_forwarder(settings, ident, store, clock, recorder=recorder) as pump:
        tasks = [asyncio.create_task(recorder.run()), asyncio.create_task(pump.run())]
        started = time.perf_counter()
        cpu_started = own_cpu_s()
        last = store.last_seq()
        tick = 0
        next_tick = started
        while True:
            now = time.perf_counter()
            if now >= next_tick:
                at = live_start + timedelta(seconds=tick)
                for probe in range(probes):
                    pending_puts.append(time.perf_counter())
                    await recorder.put(Reading(f"2086{probe:02d}", at, ProbeStatus.OK, 5.0))
                live_count += probes
                tick += 1
                next_tick += 0.5
            for seq, when in list(put_at.items()):
                if pump.acknowledged(seq):
                    delays.append(time.perf_counter() - when)
                    del put_at[seq]
            if pump.acknowledged(last) and pump.stats().cursor >= last:
                elapsed = time.perf_counter() - started
                cpu = own_cpu_s() - cpu_started
                break
            await asyncio.sleep(0.005)
        while put_at or pending_puts:  # every live reading committed and acknowledged
            for seq, when in list(put_at.items()):
                if pump.acknowledged(seq):
                    delays.append(time.perf_counter() - when)
                    del put_at[seq]
            await asyncio.sleep(0.005)
        sent = pump.stats().points_sent
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return elapsed, cpu, delays, live_count, sent


async def ceiling(url: str, bodies: list[bytes]) -> float:
    """Seconds the server takes to accept the bodies (pre-formatted, pre-gzipped), one request
    at a time as the forwarder sends them: the fastest any forwarder could drain."""
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        for body in bodies:
            async with session.post(
                url, data=body, headers={"Content-Encoding": "gzip"}
            ) as response:
                assert response.status == 204, await response.text()
        return time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class Run:
    """One ceiling pass and one drain of one target."""

    ceiling_s: float
    ceiling_server_cpu_s: float
    drain_s: float
    drain_cpu_s: float
    drain_server_cpu_s: float
    live_max_s: float
    live_p50_s: float
    on_server: int
    stored: int
    sent: int


class Target:
    """One server kind: a fresh instance per measurement, so both start empty."""

    def __init__(self, label: str, v1: bool) -> None:
        self.label = label
        self.v1 = v1

    def start(self, folder: Path) -> VictoriaMetrics | Influxd:
        server: VictoriaMetrics | Influxd
        # dedup off: VictoriaMetrics then keeps a point sent twice twice, and the count shows it.
        server = Influxd.create(folder) if self.v1 else VictoriaMetrics.create(folder, dedup=False)
        server.start()
        if isinstance(server, Influxd):
            server.create_db("coldchain")
        return server

    def write_url(self, server: VictoriaMetrics | Influxd) -> str:
        if self.v1:
            return f"{server.url}/write?db=coldchain&precision=ms"
        return f"{server.url}/api/v2/write?org=-&bucket=coldchain&precision=ms"

    def settings(self, server: VictoriaMetrics | Influxd, batch: int) -> InfluxSettings:
        target = {"v1_db": "coldchain"} if self.v1 else {"bucket": "coldchain"}
        return InfluxSettings.model_validate({"url": server.url, "batch_size": batch, **target})

    def on_server(self, server: VictoriaMetrics | Influxd) -> int:
        if isinstance(server, VictoriaMetrics):
            return len(server.samples("coldchain_status"))
        return int(server.rows("coldchain", "SELECT count(status) FROM coldchain")[0]["count"])


TARGETS = (
    Target("VictoriaMetrics, v2 API", v1=False),
    Target("InfluxDB 1.6, v1 /write", v1=True),
)


async def main(args: argparse.Namespace) -> None:
    ident = identity(args.probes)
    items = backlog(args.days, args.probes)
    live_start = START + timedelta(days=args.days, minutes=1)
    encoder = LineEncoder(ident)
    bodies = [
        gzip.compress(encoder.encode(stored), GZIP_LEVEL)
        for stored in (
            [StoredReading(seq, item) for seq, item in enumerate(items[i : i + args.batch], i + 1)]
            for i in range(0, len(items), args.batch)
        )
    ]
    results: dict[str, list[Run]] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        template = root / "template.sqlite3"
        with ReadingStore(template) as store:
            store.write_batch(items)
            store.checkpoint()
        for run in range(args.runs):
            for target in TARGETS:
                server = target.start(root / f"ceiling-{run}-{target.v1}")
                try:
                    server_before = server_cpu_s(server)
                    ceiling_s = await ceiling(target.write_url(server), bodies)
                    ceiling_server_cpu = server_cpu_s(server) - server_before
                finally:
                    server.stop()
                server = target.start(root / f"drain-{run}-{target.v1}")
                path = root / f"store-{run}-{target.v1}.sqlite3"
                shutil.copyfile(template, path)
                try:
                    with ReadingStore(path) as store:
                        server_before = server_cpu_s(server)
                        elapsed, cpu, delays, _, sent = await drain(
                            target.settings(server, args.batch),
                            store,
                            ident,
                            args.probes,
                            live_start,
                        )
                        drain_server_cpu = server_cpu_s(server) - server_before
                        total = store.last_seq()
                    on_server = target.on_server(server)
                finally:
                    server.stop()
                results.setdefault(target.label, []).append(
                    Run(
                        ceiling_s,
                        ceiling_server_cpu,
                        elapsed,
                        cpu,
                        drain_server_cpu,
                        max(delays),
                        statistics.median(delays),
                        on_server,
                        total,
                        sent,
                    )
                )
    print(
        f"backlog: {args.days} days x {args.probes} probes x 1/min = {len(items)} points;"
        f" batch {args.batch}, gzip level {GZIP_LEVEL} in both passes; live round of"
        f" {args.probes} every 0.5 s; medians of {args.runs} runs, ceiling and drain alternately"
    )
    header = (
        f"{'target':26} {'ceiling s':>9} {'drain s':>8} {'ratio':>6} {'points/s':>9}"
        f" {'live max s':>10} {'live p50 s':>10} {'fwd CPU s':>9} {'stored':>8} {'on server':>9}"
        f" {'sent':>8}"
    )
    print(header)
    print("-" * len(header))
    for label, runs in results.items():
        ceiling_s = statistics.median(r.ceiling_s for r in runs)
        drain_s = statistics.median(r.drain_s for r in runs)
        cpu = statistics.median(r.drain_cpu_s for r in runs)
        worst = max(r.live_max_s for r in runs)
        median = statistics.median(r.live_p50_s for r in runs)
        last = runs[-1]  # the counts of the last run (each is checked)
        checks = [
            f"MISMATCH {r.on_server} on server, {r.stored} stored"
            for r in runs
            if r.on_server != r.stored
        ] + [f"SENT {r.sent} for {r.stored} stored" for r in runs if r.sent != r.stored]
        print(
            f"{label:26} {ceiling_s:9.2f} {drain_s:8.2f} {drain_s / ceiling_s:6.2f}"
            f" {len(items) / drain_s:9.0f} {worst:10.3f} {median:10.3f} {cpu:9.2f}"
            f" {last.stored:8d} {last.on_server:9d} {last.sent:8d}  {'; '.join(checks)}"
        )
        print(f"{'':26} runs: ceiling {' '.join(f'{r.ceiling_s:.2f}' for r in runs)};")
        print(f"{'':26}       drain {' '.join(f'{r.drain_s:.2f}' for r in runs)};")
        print(f"{'':26}       ratio {' '.join(f'{r.drain_s / r.ceiling_s:.2f}' for r in runs)};")
        print(f"{'':26}       forwarder CPU s {' '.join(f'{r.drain_cpu_s:.2f}' for r in runs)};")
        print(
            f"{'':26}       server CPU s in the ceiling pass"
            f" {' '.join(f'{r.ceiling_server_cpu_s:.2f}' for r in runs)},"
            f" in the drain {' '.join(f'{r.drain_server_cpu_s:.2f}' for r in runs)}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
