"""Kill the forwarding process with SIGKILL mid-forward, restart it, repeat: the servers end
up with every stored reading exactly once and nothing else."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from gateway.storage.readings import ReadingStore, to_millis
from tests.forward.support import BASE_TOPIC, key, readings, wait_until
from tests.servers import Influxd, Mosquitto, Subscriber, VictoriaMetrics

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def cursor(db: Path, name: str) -> int:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT value FROM meta WHERE key = ?", (f"forward.{name}.cursor",)
        ).fetchone()
    return int(json.loads(row[0])["cursor"]) if row else 0


def last_seq(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'readings'").fetchone()
    return int(row[0]) if row else 0


async def start_child(db: Path, start: int, count: int, *args: str) -> asyncio.subprocess.Process:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.forward.child_forwarder",
        "--db",
        str(db),
        "--start",
        str(start),
        "--count",
        str(count),
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), 20)
    assert line.strip() == b"ready", line
    return child


async def kill(child: asyncio.subprocess.Process) -> None:
    os.kill(child.pid, signal.SIGKILL)
    await child.wait()


async def crash_cycles(db: Path, names: list[str], args: list[str]) -> list[int]:
    """Three runs killed mid-forward, then a final run that drains; returns cursors at kill."""
    rng = random.Random(7)
    at_kill = []
    start = 30_000
    for _ in range(3):
        child = await start_child(db, start, 1200, *args)
        await asyncio.sleep(rng.uniform(0.1, 0.4))
        await kill(child)
        at_kill.append(cursor(db, names[0]))
        start += 1200
    child = await start_child(db, start, 400, *args)
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        assert line.strip() == b"produced", line  # the store is final from here on
        await wait_until(
            lambda: all(cursor(db, name) == last_seq(db) for name in names), timeout=60
        )
    finally:
        await kill(child)
    return at_kill


def seqs(subscriber: Subscriber) -> set[int]:
    return {r["seq"] for b in subscriber.payloads("/readings") for r in b["readings"]}


def stored(db: Path) -> list[tuple[str, int]]:
    with ReadingStore(db) as store:
        return [key(item.reading) for item in store.readings_after(0, 10**6)]


async def test_sigkill_during_forward_to_victoria_metrics_and_mqtt(
    tmp_path: Path, vm: VictoriaMetrics
) -> None:
    broker = Mosquitto.create(tmp_path / "mq", persistence=True)
    broker.start()
    db = tmp_path / "gw" / "readings.sqlite3"
    with ReadingStore(db) as store:
        store.write_batch(readings(0, 30_000, every_s=1.0))  # a backlog to be mid-way through
    try:
        async with Subscriber(broker, f"{BASE_TOPIC}/#") as subscriber:
            at_kill = await crash_cycles(
                db,
                ["influx", "mqtt"],
                ["--influx-url", vm.url, "--bucket", "coldchain", "--mqtt-url", broker.url],
            )
            await wait_until(lambda: len(seqs(subscriber)) >= last_seq(db), timeout=30)
            wills = [p["state"] for p in subscriber.payloads("/status")]
    finally:
        broker.stop()
    assert any(0 < value < last_seq(db) for value in at_kill), at_kill  # killed mid-forward
    expected = stored(db)
    points = vm.samples("coldchain_status", at_least=len(expected))
    assert len(points) == len(expected)
    assert sorted((labels["probe"], ts) for labels, ts, _ in points) == sorted(expected)
    assert seqs(subscriber) == set(range(1, last_seq(db) + 1))
    assert wills.count("offline") >= 3, "the last will announces each killed process"


async def test_sigkill_during_forward_to_influxdb_1x(tmp_path: Path, influxd: Influxd) -> None:
    db = tmp_path / "gw" / "readings.sqlite3"
    with ReadingStore(db) as store:
        store.write_batch(readings(0, 30_000, every_s=1.0))
    at_kill = await crash_cycles(
        db, ["influx"], ["--influx-url", influxd.url, "--v1-db", "coldchain"]
    )
    assert any(0 < value < last_seq(db) for value in at_kill), at_kill
    expected = stored(db)
    count = influxd.rows("coldchain", "SELECT count(status) FROM coldchain")[0]["count"]
    assert count == len(expected)
    rows = influxd.rows("coldchain", "SELECT status FROM coldchain GROUP BY probe")
    assert sorted((row["probe"], row["time"]) for row in rows) == sorted(expected)
    times = [row["time"] for row in rows if row["probe"] == "P0"]
    assert times == sorted(times)
    assert to_millis(readings(0, 1)[0].taken_at) in times
