"""MQTT publish throughput to a local mosquitto: readings drained from the store as batched
JSON at QoS 1 (each batch acknowledged before the cursor moves), counted by a real subscriber.

Run: python -m bench.mqtt_publish [--readings 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.core.clock import SystemClock
from gateway.forward.mqtt import MqttForwarder
from gateway.forward.settings import MqttSettings
from gateway.forward.tags import Identity, ProbeTags
from gateway.storage.readings import ReadingStore
from probes.reading import ProbeStatus, Reading
from tests.servers import Mosquitto, Subscriber

START = datetime(2026, 1, 1, tzinfo=UTC)
IDENTITY = Identity(
    "3301020001",
    "10001",
    {f"2086{i:02d}": ProbeTags("F1", "冷藏室", "refrigerated") for i in range(20)},
)


async def run(broker: Mosquitto, store: ReadingStore, batch: int) -> tuple[float, int, int]:
    settings = MqttSettings.model_validate({"url": broker.url, "batch_size": batch})
    forwarder = MqttForwarder(settings, IDENTITY, store, SystemClock())
    total = store.last_seq()
    async with Subscriber(broker, "coldchain/+/+/readings") as subscriber:
        task = asyncio.create_task(forwarder.run())
        started = time.perf_counter()
        while forwarder.stats().cursor < total:  # noqa: ASYNC110 - polling is the measure
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        while sum(len(p["readings"]) for p in subscriber.payloads("/readings")) < total:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        received = sum(len(p["readings"]) for p in subscriber.payloads("/readings"))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return elapsed, received, len(subscriber.payloads("/readings"))


async def main(args: argparse.Namespace) -> None:
    readings = [
        Reading(
            f"2086{i % 20:02d}", START + timedelta(minutes=i // 20), ProbeStatus.OK, 4.5, 55.0, 3.1
        )
        for i in range(args.readings)
    ]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        broker = Mosquitto.create(Path(folder) / "mq")
        broker.start()
        try:
            for batch in (100, 500, 2000):
                with ReadingStore(Path(folder) / f"s{batch}.sqlite3") as store:
                    store.write_batch(readings)
                    elapsed, received, messages = await run(broker, store, batch)
                rows.append(
                    (batch, len(readings), messages, elapsed, len(readings) / elapsed, received)
                )
        finally:
            broker.stop()
    header = (
        f"{'batch':>6} {'readings':>9} {'messages':>9} {'seconds':>8} {'points/s':>9} "
        f"{'received':>9}"
    )
    print("mosquitto 2.0 on loopback, QoS 1, one JSON message per batch")
    print(header)
    print("-" * len(header))
    for batch, count, messages, elapsed, rate, received in rows:
        print(f"{batch:6d} {count:9d} {messages:9d} {elapsed:8.2f} {rate:9.0f} {received:9d}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--readings", type=int, default=100_000)
    asyncio.run(main(parser.parse_args()))
