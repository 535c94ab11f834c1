"""The county broker at a province's scale: 3,000 gateways' connections to one mosquitto.

Starts mosquitto 2 (tests/servers.py) in a temp dir on a loopback port and measures:

1. **Connections held**: each simulated gateway connects as `gateway.forward.mqtt` does
   (client id `coldchain-{unit}-{gateway}`, a retained last will on `.../status`, a retained
   "online" status, subscribed to its own `.../cmd/#`) and stays connected; the time to
   connect them all and the broker's own count (`$SYS/broker/clients/connected`).
2. **Publishes**: every gateway publishes one poll (4 readings, the gateway's own JSON payload,
   `readings_payload`) on `coldchain/{unit}/{gateway}/readings` at QoS 1 once a second for
   `--seconds` (a province polls once a minute: this is 60 minutes of it, compressed 60 times),
   spread over the second, each awaiting its PUBACK: publishes acknowledged a second, the
   PUBACK delay (median, 99th percentile, max), failures.
3. **A subscriber** on `coldchain/+/+/readings` (QoS 1, as a county's consumer) counts what
   arrives: messages lost (acknowledged to a gateway, never delivered) and duplicated.
4. **The broker**: resident memory idle with every connection held and at the end, its CPU
   seconds while the gateways publish.

The gateways run in `--processes` worker processes, each a selector over its share of paho
clients (the library under the gateway's aiomqtt: 3,000 asyncio clients are too heavy for the
few cores that simulate them; the broker sees the same packets), started with this process's
open-files limit raised to its hard limit (mosquitto and the workers inherit it). Loopback
only; about a minute.

Run: python -m bench.province_broker [--gateways 3000] [--seconds 10] [--processes 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import selectors
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from gateway.forward.mqtt import readings_payload
from gateway.forward.tags import Identity, ProbeTags
from gateway.storage.readings import StoredReading
from probes.reading import ProbeStatus, Reading
from tests.servers import Mosquitto

PREFIX = "coldchain"
COMPARTMENTS = {
    "P1": ProbeTags("F1", "冷藏室", "refrigerated"),
    "P2": ProbeTags("F1", "冷冻室", "frozen"),
    "P3": ProbeTags("F2", "冷藏室", "refrigerated"),
    "P4": ProbeTags("F3", "冷藏室", "refrigerated"),
}
START = datetime(2026, 10, 1, tzinfo=UTC)


def identity(gateway: int) -> Identity:
    region = f"61{gateway // 100:04d}"
    return Identity(f"{region}{gateway % 100:04d}", str(10_000 + gateway), COMPARTMENTS, region)


def poll(who: Identity, tick: int) -> bytes:
    """A gateway's minute `tick`: one reading of each of its 4 probes, seq 4·tick+1...4."""
    taken = START + timedelta(minutes=tick)
    batch = [
        StoredReading(4 * tick + n + 1, Reading(probe, taken, ProbeStatus.OK, 4.0 + n / 10))
        for n, probe in enumerate(COMPARTMENTS)
    ]
    return readings_payload(who, batch)


def base(who: Identity) -> str:
    return f"{PREFIX}/{who.unit}/{who.gateway}"


# --- a worker process: its share of the gateways -------------------------------------------


@dataclass
class WorkerTally:
    connected: int = 0
    acknowledged: int = 0
    failed: int = 0
    late: int = 0
    """Publishes begun more than a second after their time: the worker fell behind."""
    connect_s: float = 0.0
    first_sent: float = float("inf")
    last_acknowledged: float = 0.0
    delays_ms: list[float] = field(default_factory=list)


class Gateways:
    """`count` simulated gateways from `first`, as paho clients on one selector: connected as
    `gateway.forward.mqtt` connects (its client id, retained last will and online status, its
    `cmd/#` subscription), then publishing their polls at QoS 1 on a schedule."""

    def __init__(self, port: int, first: int, count: int) -> None:
        import paho.mqtt.client as mqtt

        self.tally = WorkerTally()
        self.selector = selectors.DefaultSelector()
        self.clients: list[Any] = []
        self._sent: dict[tuple[int, int], float] = {}
        self.lines: list[str] = []
        self.who = [identity(first + n) for n in range(count)]
        for index, who in enumerate(self.who):
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2, client_id=f"coldchain-{who.unit}-{who.gateway}"
            )
            offline = json.dumps({"state": "offline", "unit": who.unit, "gateway": who.gateway})
            client.will_set(f"{base(who)}/status", offline, qos=1, retain=True)
            client.user_data_set(index)
            client.on_connect = self._on_connect
            client.on_publish = self._on_publish
            self.clients.append(client)
        self._port = port

    def _on_connect(self, client: Any, index: int, *_: object) -> None:
        who = self.who[index]
        online = json.dumps({"state": "online", "unit": who.unit, "gateway": who.gateway})
        client.publish(f"{base(who)}/status", online, qos=1, retain=True)
        client.subscribe(f"{base(who)}/cmd/#", qos=1)
        self.tally.connected += 1

    def _on_publish(self, _client: Any, index: int, mid: int, *_: object) -> None:
        sent = self._sent.pop((index, mid), None)
        if sent is None:  # the online status
            return
        done = time.time()
        self.tally.delays_ms.append(1000 * (done - sent))
        self.tally.last_acknowledged = max(self.tally.last_acknowledged, done)
        self.tally.acknowledged += 1

    def connect(self, deadline_s: float = 120.0) -> None:
        started = time.monotonic()
        for client in self.clients:
            client.connect("127.0.0.1", self._port, keepalive=60)
            self.selector.register(client.socket(), selectors.EVENT_READ, client)
            self.turn(0)
        while self.tally.connected < len(self.clients):
            if time.monotonic() - started > deadline_s:
                break
            self.turn(0.05)
        self.tally.connect_s = time.monotonic() - started

    def turn(self, timeout: float) -> None:
        """Read what arrived, write what is pending (replies queued in callbacks); a line of
        stdin (once `listen` registered it) goes to `lines`."""
        for key, _ in self.selector.select(timeout):
            client = key.data
            if client is None:
                self.lines += os.read(0, 4096).decode().splitlines()
                continue
            client.loop_read()
            if client.want_write():
                client.loop_write()

    def listen(self) -> None:
        self.selector.register(0, selectors.EVENT_READ, None)

    def publish(self, at: float, ticks: int, total: int) -> None:
        """Each gateway's polls at `at` + tick + its share of the second (by number)."""
        schedule = sorted(
            (at + tick + int(who.gateway) % total / total, index, tick)
            for index, who in enumerate(self.who)
            for tick in range(ticks)
        )
        tally, sent = self.tally, self._sent
        for due, index, tick in schedule:
            while (wait := due - time.time()) > 0:
                self.turn(wait)
            client = self.clients[index]
            now = time.time()
            tally.late += now - due > 1.0
            tally.first_sent = min(tally.first_sent, now)
            info = client.publish(
                f"{base(self.who[index])}/readings", poll(self.who[index], tick), qos=1
            )
            if info.rc:
                tally.failed += 1
            else:
                sent[(index, info.mid)] = now
        deadline = time.monotonic() + 60
        while self._sent and time.monotonic() < deadline:
            self.turn(0.05)
        tally.failed += len(self._sent)

    def keep(self, until: Callable[[], bool]) -> None:
        """Stay connected (keepalive pings) until `until()`."""
        while not until():
            self.turn(0.5)
            for client in self.clients:
                client.loop_misc()

    def close(self) -> None:
        for client in self.clients:
            client.disconnect()
            client.loop_write()


def worker(port: int, first: int, count: int, total: int, ticks: int) -> None:
    """Connect `count` gateways from `first`; print `ready N seconds`; publish from the start
    time read on stdin; print the tally as JSON; disconnect at the next line of stdin."""
    gateways = Gateways(port, first, count)
    gateways.connect()
    tally = gateways.tally
    print(f"ready {tally.connected} {tally.connect_s:.2f}", flush=True)
    gateways.listen()
    gateways.keep(lambda: bool(gateways.lines))
    gateways.publish(float(gateways.lines.pop()), ticks, total)
    print(json.dumps(tally.__dict__), flush=True)
    gateways.keep(lambda: bool(gateways.lines))
    gateways.close()


# --- the county side: broker, subscriber, figures ------------------------------------------


class CountyConsumer:
    """A subscriber to every gateway's readings (QoS 1) counting each (gateway, seq) seen, and
    the broker's own count of connected clients."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.seen: Counter[tuple[str, int]] = Counter()
        self.connected_clients = 0
        self._lock = threading.Lock()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="county-consumer")
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(f"{PREFIX}/+/+/readings", qos=1)
        self._client.subscribe("$SYS/broker/clients/connected", qos=0)
        self._client.loop_start()

    def _on_message(self, _client: object, _userdata: object, message: Any) -> None:
        topic: str = message.topic
        if topic.startswith("$SYS/"):
            self.connected_clients = int(message.payload)
            return
        first_seq = json.loads(message.payload)["readings"][0]["seq"]
        with self._lock:
            self.seen[(topic, first_seq)] += 1

    def messages(self) -> int:
        with self._lock:
            return sum(self.seen.values())

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@dataclass
class BrokerFigures:
    gateways: int
    seconds: int
    connected: int
    broker_connected: int
    broker_held: int
    connect_s: float
    acknowledged: int
    failed: int
    late: int
    publish_s: float
    delays_ms: list[float]
    delivered: int
    duplicated: int
    lost: int
    broker_cpu_s: float
    broker_rss_idle_mb: float
    broker_rss_end_mb: float
    broker_hwm_mb: float


def _mb(process: psutil.Process) -> float:
    return process.memory_info().rss / 1e6


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def measure(broker: Mosquitto, gateways: int, seconds: int, processes: int) -> BrokerFigures:
    assert broker.process is not None
    server = psutil.Process(broker.process.pid)
    consumer = CountyConsumer(broker.port)
    shares = [
        (n * gateways // processes, (n + 1) * gateways // processes) for n in range(processes)
    ]
    children = []
    for first, stop in shares:
        argv = [str(n) for n in (broker.port, first, stop - first, gateways, seconds)]
        pipes = {"stdin": asyncio.subprocess.PIPE, "stdout": asyncio.subprocess.PIPE}
        pipes["limit"] = 1 << 24  # a tally line holds every PUBACK delay
        command = [sys.executable, "-m", "bench.province_broker", "--worker", *argv]
        children.append(await asyncio.create_subprocess_exec(*command, **pipes))
    try:
        readies = [await _line(child) for child in children]
        print(f"workers ready: {', '.join(r.strip() for r in readies)}", file=sys.stderr)
        connected = sum(int(r.split()[1]) for r in readies)
        connect_s = max(float(r.split()[2]) for r in readies)
        await asyncio.sleep(2.5)  # mosquitto's $SYS figures, every second
        broker_connected = consumer.connected_clients - 1  # the consumer itself
        idle_mb = _mb(server)
        cpu_before = _cpu(server)
        at = time.time() + 1.0
        for child in children:
            _write(child, f"{at}\n")
        tallies = [json.loads(await _line(child)) for child in children]
        cpu = _cpu(server) - cpu_before
        publish_s = max(t["last_acknowledged"] for t in tallies) - min(
            t["first_sent"] for t in tallies
        )
        acknowledged = sum(t["acknowledged"] for t in tallies)
        deadline = time.monotonic() + 30
        while consumer.messages() < acknowledged and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # a duplicate would come late
        end_mb = _mb(server)
        held = consumer.connected_clients - 1
        delays = sorted(d for t in tallies for d in t["delays_ms"])
        unique = len(consumer.seen)
        figures = BrokerFigures(
            gateways, seconds, connected, broker_connected, held, connect_s, acknowledged,
            sum(t["failed"] for t in tallies), sum(t["late"] for t in tallies), publish_s,
            delays, consumer.messages(),
            consumer.messages() - unique, max(0, acknowledged - unique),
            cpu, idle_mb, end_mb, _hwm_mb(broker.process.pid),
        )  # fmt: skip
        for child in children:
            _write(child, "stop\n")
        for child in children:
            await asyncio.wait_for(child.wait(), 60)
        return figures
    finally:
        consumer.stop()
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()


async def _line(child: asyncio.subprocess.Process) -> str:
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), 300)
    if not line:
        raise RuntimeError(f"a worker stopped early (exit {await child.wait()})")
    return line.decode()


def _write(child: asyncio.subprocess.Process, text: str) -> None:
    assert child.stdin is not None
    child.stdin.write(text.encode())


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(share * len(values)))]


def show(figures: BrokerFigures, load: float) -> None:
    rows = [
        ("gateways connected (the broker's count before / after publishing)",
         f"{figures.connected:,} ({figures.broker_connected:,} / {figures.broker_held:,}) in "
         f"{figures.connect_s:.1f} s"),
        (f"polls published (QoS 1, {figures.seconds} s at one a second each)",
         f"{figures.acknowledged:,} acknowledged, {figures.failed:,} failed, "
         f"{figures.late:,} late (begun > 1 s after their time)"),
        ("publishes acknowledged a second (first sent to last acknowledged)",
         f"{figures.acknowledged / figures.publish_s:,.0f} over {figures.publish_s:.1f} s "
         f"(a province needs {figures.gateways / 60:,.0f})"),
        ("PUBACK delay: median / 99th percentile / max",
         f"{statistics.median(figures.delays_ms) if figures.delays_ms else float('nan'):.1f} / "
         f"{percentile(figures.delays_ms, 0.99):.1f} / "
         f"{max(figures.delays_ms, default=float('nan')):.1f} ms"),
        ("delivered to the county subscriber",
         f"{figures.delivered:,}: {figures.lost:,} lost, {figures.duplicated:,} duplicated"),
        ("broker CPU while publishing",
         f"{figures.broker_cpu_s:.1f} s over {figures.publish_s:.1f} s "
         f"({100 * figures.broker_cpu_s / figures.publish_s:.0f} % of a core; "
         f"{1e6 * figures.broker_cpu_s / max(1, figures.acknowledged):.0f} µs a poll)"),
        ("broker resident memory: connected idle / end / peak",
         f"{figures.broker_rss_idle_mb:.0f} / {figures.broker_rss_end_mb:.0f} / "
         f"{figures.broker_hwm_mb:.0f} MB"),
        ("load average during the run", f"{load:.1f}"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    print(f"{'province broker benchmark (mosquitto)':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gateways", type=int, default=3000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--worker", nargs=5, type=int, metavar=("PORT", "FIRST", "COUNT",
                        "TOTAL", "TICKS"), help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    needed = args.gateways + 100
    if hard < needed:
        raise SystemExit(
            f"the open-files limit is {hard}, the broker needs {needed} for {args.gateways} "
            "gateways: raise it (ulimit -Hn) or pass fewer --gateways"
        )
    with tempfile.TemporaryDirectory() as folder:
        broker = Mosquitto.create(
            Path(folder) / "mosquitto",
            extra="max_queued_messages 100000\nsys_interval 1\n",
        )
        broker.start()
        try:
            figures = asyncio.run(measure(broker, args.gateways, args.seconds, args.processes))
        finally:
            broker.stop()
    show(figures, os.getloadavg()[0])


if __name__ == "__main__":
    main()
