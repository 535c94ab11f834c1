"""Alarm latency and fan-out: reading committed -> tier-1 notification handed to the channel.

Run: python -m bench.alarm_latency [--compartments N] [--samples S]

The rule's hold-off is set to 0 (`too_warm_hold_off_s = 0`), so the first too-warm reading
raises the condition: the latency measured is the gateway's own path after the hold-off has
elapsed (recorder subscriber -> queue -> rules -> escalation step -> one SQLite transaction ->
outbox -> dispatcher -> channel.send), on the real clock, with a recording channel in place
of WeCom so no network time is counted. Then N compartments go too warm in the same batch:
time until all N tier-1 notifications were handed to the channel, and memory (tracemalloc
peak of the service during that burst, measured in a second, separate run, and RSS growth).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerts.channels.base import DeliveryResult, Notification, delivered
from alerts.model import ChannelKind
from gateway.alarms.engine import AlarmService
from gateway.core.clock import SystemClock
from gateway.readings.recorder import Recorder
from gateway.settings import Settings, parse_settings
from gateway.storage.readings import ReadingStore, StoredReading
from probes.reading import ProbeStatus, Reading

CHANNELS_PER_LOGGER = 8


def settings_for(compartments: int, data_dir: Path) -> Settings:
    fridges = [
        {
            "code": f"F{i}",
            "name": f"{i}号冰箱",
            "kind": "refrigerator",
            "compartments": [{"name": "冷藏", "kind": "refrigerated"}],
        }
        for i in range(compartments)
    ]
    probes = [
        {
            "code": f"P{i}",
            "bus": "sim",
            "device_id": 1 + i // CHANNELS_PER_LOGGER,
            "channel": i % CHANNELS_PER_LOGGER,
            "profile": "logger-8ch",
            "compartment": f"F{i}/冷藏",
            "poll_interval_s": 3600,
        }
        for i in range(compartments)
    ]
    data: dict[str, Any] = {
        "unit": {"code": "6101030203", "name": "测试门诊", "region_code": "610102"},
        "gateway": {"number": "10001", "data_dir": str(data_dir)},
        "buses": [{"name": "sim", "transport": "tcp", "host": "127.0.0.1"}],
        "fridges": fridges,
        "probes": probes,
        "alerts": {
            "people": [{"id": "wang", "name": "王芳", "phone": "+8613800000001"}],
            "tiers": {"tier1": {"people": ["wang"]}},
            "channels": {"wecom_robot": {"key": "k"}, "console": False},
            "rules": {"defaults": {"too_warm_hold_off_s": 0}},
            "ack": {"secret": "s" * 40, "base_url": "http://127.0.0.1:8080"},
        },
    }
    return parse_settings(data, "bench")


@dataclass
class Stopwatch:
    """A channel that notes when each alarm's notification was handed to it."""

    kind: ChannelKind = ChannelKind.WECOM_ROBOT
    sent: dict[str, float] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expect: int = 0

    async def send(self, notification: Notification) -> DeliveryResult:
        self.sent[notification.id] = time.perf_counter()
        if len(self.sent) >= self.expect:
            self.done.set()
        return delivered()

    async def aclose(self) -> None:
        return None


async def run(compartments: int, mode: str) -> dict[str, float]:
    """mode "latency": one compartment after the other; "burst": all in one batch."""
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        settings = settings_for(compartments, data_dir)
        clock = SystemClock()
        channel = Stopwatch(expect=compartments)
        committed: dict[str, float] = {}

        def on_commit(batch: Any) -> None:
            now = time.perf_counter()
            for stored in batch:
                assert isinstance(stored, StoredReading)
                committed.setdefault(stored.reading.probe, now)

        with ReadingStore(data_dir / "readings.sqlite3") as store:
            recorder = Recorder(store, clock, settings.store)
            recorder.subscribe(on_commit)
            with AlarmService(
                settings,
                clock,
                data_dir,
                recorder,
                readings=store,
                channels={ChannelKind.WECOM_ROBOT: channel},
            ) as service:
                tasks = [
                    asyncio.create_task(recorder.run(), name="recorder"),
                    asyncio.create_task(service.run(), name="alarms"),
                ]
                for _ in range(1000):  # the service loads its state, then says so
                    if service.started:
                        break
                    await asyncio.sleep(0.01)
                rss_before = _rss_kb()
                traced = mode == "memory"
                if traced:
                    tracemalloc.start()
                started = time.perf_counter()
                now = datetime.now(UTC)
                if mode == "latency":
                    for index in range(compartments):
                        await recorder.put(Reading(f"P{index}", now, ProbeStatus.OK, 9.5))
                        await asyncio.sleep(0.3)  # one commit per reading (flush every 0.25 s)
                else:
                    for index in range(compartments):
                        await recorder.put(Reading(f"P{index}", now, ProbeStatus.OK, 9.5))
                await asyncio.wait_for(channel.done.wait(), timeout=600)
                elapsed = time.perf_counter() - started
                peak = tracemalloc.get_traced_memory()[1] if traced else 0
                if traced:
                    tracemalloc.stop()
                rss_delta = _rss_kb() - rss_before
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                rows = {row.entry.id: row.entry.alarm_id for row in service.store.outbox_all()}
        by_probe = {
            alarm_id.split(":")[2].split("@")[0]: channel.sent[row_id]
            for row_id, alarm_id in rows.items()
            if row_id in channel.sent
        }
        latencies = sorted((by_probe[p] - committed[p]) * 1000 for p in by_probe)
        return {
            "elapsed_s": elapsed,
            "commit_first_s": min(committed.values()) - started,
            "p50_ms": statistics.median(latencies),
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "max_ms": latencies[-1],
            "peak_mb": peak / 2**20,
            "rss_delta_mb": rss_delta / 1024,
            "notified": len(by_probe),
        }


def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--compartments", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    latency = asyncio.run(run(args.samples, "latency"))
    burst = asyncio.run(run(args.compartments, "burst"))
    memory = asyncio.run(run(args.compartments, "memory"))
    n = args.compartments
    print("alarm path: reading committed -> tier-1 notification handed to the channel")
    print("(hold-off 0: measured from the moment the rule confirms; recording channel)")
    print(f"{'measure':<58}{'value':>14}")
    print("-" * 72)
    rows = [
        (
            f"latency p50, one alarm at a time ({args.samples} samples)",
            f"{latency['p50_ms']:.1f} ms",
        ),
        ("latency p99", f"{latency['p99_ms']:.1f} ms"),
        ("latency max", f"{latency['max_ms']:.1f} ms"),
        (f"{n} compartments at once: all notified after", f"{burst['elapsed_s']:.2f} s"),
        ("  of which reading put -> commit", f"{burst['commit_first_s']:.2f} s"),
        ("  per-alarm latency p50 in the burst", f"{burst['p50_ms']:.0f} ms"),
        ("  per-alarm latency p99 in the burst", f"{burst['p99_ms']:.0f} ms"),
        ("  notifications handed to the channel", f"{burst['notified']:.0f}"),
        ("  tracemalloc peak during the burst (separate run)", f"{memory['peak_mb']:.1f} MB"),
        ("  max RSS growth during the burst", f"{burst['rss_delta_mb']:.1f} MB"),
    ]
    for name, value in rows:
        print(f"{name:<58}{value:>14}")


if __name__ == "__main__":
    main()
