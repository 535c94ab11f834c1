"""The gateway's cost by configuration: CPU, resident memory, and whether the probes keep time.

Runs the Modbus TCP simulator and `coldchain run` as two processes (bench/modbus_poll.py's
set-up) and samples the gateway alone for `--seconds` after `--warmup`. Each `--case` is one
configuration, measured `--runs` times in turn; medians printed:

- `idle`: no probes at all (the goal: under 0.5 % of a core; no wake-ups the work does not need);
- `idle-full`: no probes, every subsystem of `full` below on;
- `200x1s`: 200 probes polled every second, store, web pages, MQTT to a local mosquitto
  (the goal: under 50 MB);
- `2000x60s`: 2,000 probes polled once a minute, store, web pages;
- `full`: `200x1s` plus everything the example configuration (config/gateway.toml) turns on:
  the InfluxDB forwarder (a local VictoriaMetrics), alarms with every channel configured, the
  ledgers (the goal: under 60 MB).

"kept time" is readings stored per second over the number the schedule asks for.
Run: `python -m bench.gateway_load [--case idle --case 200x1s ...] [--runs 3]`.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.cpu import cpu_s
from bench.modbus_poll import CONFIG, child, free_port, health
from tests.servers import Mosquitto, VictoriaMetrics

ROOT = Path(__file__).resolve().parent.parent

COMPARTMENT = """
  [[fridges.compartments]]
  name = "C{index:04d}"
  kind = "refrigerated"
"""

PROBE = """
[[probes]]
code = "P{index:04d}"
bus = "{bus}"
device_id = {device}
{channel}profile = "{profile}"
compartment = "F1/C{index:04d}"
poll_interval_s = {interval}
"""

BUS = """
[[buses]]
name = "{name}"
transport = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.5
"""

#: The highest Modbus device id.
MAX_DEVICE = 247

MQTT = """
[mqtt]
url = "mqtt://127.0.0.1:{port}"
"""

INFLUX = """
[influx]
url = "http://127.0.0.1:{port}"
bucket = "coldchain"
"""

ALERTS = """
[alerts]

[[alerts.people]]
id = "wang"
name = "王芳"
phone = "+8613800000001"
wecom_userid = "WangFang"

[[alerts.people]]
id = "li"
name = "李强"
phone = "+8613800000002"

[alerts.tiers.tier1]
people = ["wang"]

[alerts.tiers.tier2]
people = ["li"]

[alerts.channels.wecom_robot]
key = "00000000-0000-0000-0000-000000000000"

[alerts.channels.twilio]
account_sid = "AC00000000000000000000000000000000"
auth_token = "change-me-to-a-token"
from_number = "+15005550006"

[alerts.ack]
secret = "bench-secret-of-at-least-thirty-two-characters"
base_url = "http://127.0.0.1:{http_port}"
"""

LEDGER = """
[ledger]
platform_url = "http://127.0.0.1:9/upload"
catalogue_files = ["{config}/demo-shipment.json"]
units_files = ["{config}/demo-units.csv"]
"""


@dataclass(frozen=True)
class Case:
    name: str
    probes: int
    interval_s: int
    #: Probes per device: 1 (a transmitter each) or 8 (8-channel loggers).
    channels: int = 1
    mqtt: bool = False
    full: bool = False

    @property
    def buses(self) -> int:
        devices = -(-self.probes // self.channels)
        return max(1, -(-devices // MAX_DEVICE))


CASES = {
    case.name: case
    for case in (
        Case("idle", 0, 1),
        Case("idle-full", 0, 1, mqtt=True, full=True),
        Case("200x1s", 200, 1, mqtt=True),
        Case("2000x60s", 2000, 60, channels=8),
        Case("full", 200, 1, mqtt=True, full=True),
    )
}


def write_config(folder: Path, case: Case, ports: list[int], servers: dict[str, int]) -> Path:
    """The gateway's configuration; bus `lan` is bench/modbus_poll.py's, further buses are
    `lan1`, `lan2`... (one simulator each)."""
    http_port = free_port()
    text = CONFIG.format(data_dir=folder / "data", http_port=http_port, modbus_port=ports[0])
    text = text.replace(
        "[[fridges]]",
        "".join(BUS.format(name=f"lan{bus}", port=port) for bus, port in enumerate(ports) if bus)
        + "\n[[fridges]]",
    )
    indices = range(case.probes)
    text += "".join(COMPARTMENT.format(index=index) for index in indices)
    per_bus = MAX_DEVICE * case.channels
    for index in indices:
        bus, slot = divmod(index, per_bus)
        device, channel = divmod(slot, case.channels)
        text += PROBE.format(
            index=index,
            bus=f"lan{bus}" if bus else "lan",
            device=device + 1,
            channel=f"channel = {channel}\n" if case.channels > 1 else "",
            profile="logger-8ch" if case.channels > 1 else "rs485-th",
            interval=case.interval_s,
        )
    if case.probes == 0:
        text += COMPARTMENT.format(index=0)
    if case.mqtt:
        text += MQTT.format(port=servers["mqtt"])
    if case.full:
        text += INFLUX.format(port=servers["influx"])
        text += ALERTS.format(http_port=http_port)
        text += LEDGER.format(config=ROOT / "config")
    path = folder / "bench.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Sample:
    cpu_percent: float
    rss_mb: float
    per_second: float
    expected: float
    cpu_per_reading_us: float
    #: CPU seconds (user + system) over the sampled window, and the window's length.
    cpu_s: float = float("nan")
    seconds: float = float("nan")


def measure(
    case: Case, folder: Path, servers: dict[str, int], warmup: float, seconds: float
) -> Sample:
    ports = [free_port() for _ in range(case.buses)]
    config = write_config(folder, case, ports, servers)
    with contextlib.ExitStack() as stack:
        for bus, port in enumerate(ports if case.probes else []):
            stack.enter_context(
                child(
                    "sim",
                    "modbus",
                    "--config",
                    str(config),
                    "--bus",
                    f"lan{bus}" if bus else "lan",
                    "--transport",
                    "tcp",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                )
            )
        gateway = stack.enter_context(child("run", "--config", str(config)))
        process = psutil.Process(gateway.pid)
        time.sleep(warmup)
        http_port = _http_port(config)
        before = health(http_port)
        cpu_before = cpu_s(process)
        started = time.monotonic()
        rss_peak = 0
        while time.monotonic() - started < seconds:
            rss_peak = max(rss_peak, process.memory_info().rss)
            time.sleep(0.5)
        cpu_after = cpu_s(process)
        elapsed = time.monotonic() - started
        after = health(http_port)
    cpu = cpu_after - cpu_before
    written = _written(after) - _written(before)
    return Sample(
        100 * cpu / elapsed,
        rss_peak / 1e6,
        written / elapsed,
        case.probes / case.interval_s,
        1e6 * cpu / written if written else float("nan"),
        cpu,
        elapsed,
    )


def _http_port(config: Path) -> int:
    import tomllib

    return int(tomllib.loads(config.read_text(encoding="utf-8"))["http"]["port"])


def _written(body: dict[str, object]) -> int:
    store = body["store"]
    assert isinstance(store, dict)
    return int(store["readings_written"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", action="append", choices=list(CASES))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    cases = [CASES[name] for name in args.case or CASES]
    samples: dict[str, list[Sample]] = {case.name: [] for case in cases}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        mosquitto = Mosquitto.create(root / "mosquitto")
        victoria = VictoriaMetrics.create(root / "vm")
        mosquitto.start()
        victoria.start()
        servers = {"mqtt": mosquitto.port, "influx": victoria.port}
        try:
            for run in range(args.runs):
                for case in cases:
                    work = root / f"{case.name}-{run}"
                    work.mkdir()
                    samples[case.name].append(
                        measure(case, work, servers, args.warmup, args.seconds)
                    )
        finally:
            mosquitto.stop()
            victoria.stop()
    print(f"medians of {args.runs} runs of {args.seconds:.0f} s after {args.warmup:.0f} s warm-up")
    header = (
        f"{'case':10} {'CPU % core':>10} {'RSS MB':>7} {'readings/s':>10} {'expected':>8}"
        f" {'kept time':>9} {'CPU µs/reading':>14}"
    )
    print(header)
    print("-" * len(header))
    for name, runs in samples.items():
        cpu = statistics.median(s.cpu_percent for s in runs)
        rss = statistics.median(s.rss_mb for s in runs)
        rate = statistics.median(s.per_second for s in runs)
        expected = runs[0].expected
        kept = f"{rate / expected:9.3f}" if expected else f"{'-':>9}"
        per = statistics.median(s.cpu_per_reading_us for s in runs)
        print(f"{name:10} {cpu:10.2f} {rss:7.1f} {rate:10.1f} {expected:8.1f} {kept} {per:14.0f}")
        print(
            f"{'':10} runs: CPU % {' '.join(f'{s.cpu_percent:.2f}' for s in runs)};"
            f" CPU s {' '.join(f'{s.cpu_s:.2f}/{s.seconds:.0f}' for s in runs)};"
            f" µs/reading {' '.join(f'{s.cpu_per_reading_us:.0f}' for s in runs)};"
            f" RSS {' '.join(f'{s.rss_mb:.1f}' for s in runs)}"
        )


if __name__ == "__main__":
    main()
