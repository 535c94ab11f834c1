"""Backlog drain after a 7-day outage, to VictoriaMetrics (v2 API) and InfluxDB 1.x (v1 /write).

20 probes x 1 reading a minute x 7 days = 201,600 stored, unsent readings; the forwarder starts
while a live round of 20 readings arrives every 0.5 s. Measures the drain time and the delay of
each live reading (commit request -> server acknowledgement). Starts the servers itself.

Run: python -m bench.forward_drain [--days 7] [--probes 20] [--batch 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.core.clock import SystemClock
from gateway.forward.influx import open_influx_forwarder
from gateway.forward.settings import InfluxSettings
from gateway.forward.tags import Identity, ProbeTags
from gateway.recorder import Recorder
from gateway.settings import StoreSettings
from gateway.storage.readings import ReadingStore, StoredReading
from probes.reading import ProbeStatus, Reading
from tests.servers import Influxd, VictoriaMetrics

START = datetime(2026, 1, 1, tzinfo=UTC)


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
) -> tuple[float, list[float], int]:
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
                break
            await asyncio.sleep(0.005)
        while put_at:
            for seq, when in list(put_at.items()):
                if pump.acknowledged(seq):
                    delays.append(time.perf_counter() - when)
                    del put_at[seq]
            await asyncio.sleep(0.005)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return elapsed, delays, live_count


async def main(args: argparse.Namespace) -> None:
    rows = []
    ident = identity(args.probes)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        vm = VictoriaMetrics.create(root / "vm")
        influxd = Influxd.create(root / "influxd")
        vm.start()
        influxd.start()
        influxd.create_db("coldchain")
        try:
            items = backlog(args.days, args.probes)
            live_start = START + timedelta(days=args.days, minutes=1)
            targets = [
                (
                    "VictoriaMetrics, v2 API (influxdb-client)",
                    {"url": vm.url, "bucket": "coldchain"},
                ),
                ("InfluxDB 1.6, v1 /write", {"url": influxd.url, "v1_db": "coldchain"}),
            ]
            for label, target in targets:
                with ReadingStore(root / f"store-{len(rows)}.sqlite3") as store:
                    store.write_batch(items)
                    settings = InfluxSettings.model_validate({**target, "batch_size": args.batch})
                    elapsed, delays, live = await drain(
                        settings, store, ident, args.probes, live_start
                    )
                    total = store.last_seq()
                if "bucket" in target:
                    on_server = len(vm.samples("coldchain_status"))
                else:
                    on_server = influxd.rows("coldchain", "SELECT count(status) FROM coldchain")[0][
                        "count"
                    ]
                rows.append(
                    (
                        label,
                        len(items),
                        live,
                        elapsed,
                        len(items) / elapsed,
                        max(delays),
                        statistics.median(delays),
                        on_server,
                        total,
                    )
                )
        finally:
            vm.stop()
            influxd.stop()
    print(
        f"backlog: {args.days} days x {args.probes} probes x 1/min; batch {args.batch}; "
        f"live round of {args.probes} every 0.5 s"
    )
    header = (
        f"{'target':44} {'backlog':>8} {'live':>5} {'drain s':>8} {'points/s':>9} "
        f"{'live max s':>10} {'live p50 s':>10} {'on server':>9}"
    )
    print(header)
    print("-" * len(header))
    for label, points, live, elapsed, rate, worst, median, on_server, total in rows:
        check = "" if on_server == total else f"  MISMATCH: stored {total}"
        print(
            f"{label:44} {points:8d} {live:5d} {elapsed:8.2f} {rate:9.0f} {worst:10.3f} "
            f"{median:10.3f} {on_server:9d}{check}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--batch", type=int, default=5000)
    asyncio.run(main(parser.parse_args()))
