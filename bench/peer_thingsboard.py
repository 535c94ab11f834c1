"""coldchain beside ThingsBoard IoT Gateway on the same job: CPU share and resident memory.

The job: 200 Modbus TCP temperature/humidity transmitters (firmware_sim, one TCP connection),
each polled once a second, readings kept in SQLite and published to a local mosquitto. The peer
and coldchain run alternately, `--rounds` times (default 2), each sampled alone for `--seconds`
after `--warmup`; the table shows every round and the ratio of coldchain to the peer (the goal:
CPU at most a third of the peer's), with the CPU seconds (user + system) each spent in its
window and the CPU per reading (coldchain: per reading stored; the peer: per telemetry message
seen on the broker, one per device and poll, holding both values).

The peer, pinned and installed by this script (not by `make test`) in its own venv under
`$XDG_CACHE_HOME/coldchain-bench/` (default ~/.cache):

- thingsboard-gateway 3.8.5 (PyPI), Python of this interpreter;
- its Modbus connector pip-installs pymodbus (the exact version it names in
  `modbus_connector.py`), pyserial and pyserial-asyncio at its first import: the script installs
  them into the peer's venv first, so no install happens while it is measured;
- "ThingsBoard" is the local mosquitto: the peer's MQTT client connects with an access token as
  user name, which an anonymous mosquitto accepts, and publishes its telemetry to
  `v1/gateway/telemetry`; it waits for the answer to its `getSessionLimits` RPC before it
  sends anything, which the script gives as ThingsBoard would ("no limits"); remote
  configuration, remote shell, statistics and the gRPC server are turned off;
- storage "sqlite" (its own SQLite file), `sendDataOnlyOnChange` false (every poll published, as
  coldchain stores every reading), `reportStrategy` ON_RECEIVED, logs at ERROR to files;
- each transmitter is one slave of the connector with two input registers at address 1
  (temperature int16 x0.1, humidity uint16 x0.1: the `rs485-th` register map), `pollPeriod`
  1000 ms.

coldchain runs `bench/gateway_load.py`'s `200x1s` case: the same simulator configuration,
store, MQTT to the same kind of local mosquitto, and its web pages on.
Run: `python -m bench.peer_thingsboard [--rounds 2] [--warmup 15] [--seconds 30]`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.cpu import cpu_s
from bench.gateway_load import CASES, Sample, measure, write_config
from bench.modbus_poll import child, free_port
from tests.servers import Mosquitto

PEER = "thingsboard-gateway"
PEER_VERSION = "3.8.5"
DEVICES = 200


def peer_venv() -> Path:
    """The peer's own venv, made (once) with its pinned version and connector libraries."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = cache / "coldchain-bench" / f"{PEER}-{PEER_VERSION}"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if stamp.exists():
        return venv
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, f"{PEER}=={PEER_VERSION}"], check=True)
    connector = next(venv.glob("lib/python*/site-packages/thingsboard_gateway"))
    source = (connector / "connectors" / "modbus" / "modbus_connector.py").read_text()
    match = re.search(r"required_version\s*=\s*['\"]([^'\"]+)['\"]", source)
    if match is None:
        raise SystemExit(f"{PEER} {PEER_VERSION}: its Modbus connector names no pymodbus version")
    subprocess.run(
        [*pip, f"pymodbus=={match.group(1)}", "pyserial", "pyserial-asyncio"], check=True
    )
    stamp.touch()
    return venv


def peer_config(folder: Path, modbus_port: int, mqtt_port: int) -> Path:
    """The peer's configuration folder: tb_gateway.json, modbus.json, logs.json."""
    config = folder / "config"
    (folder / "logs").mkdir(parents=True)
    (folder / "data").mkdir()
    config.mkdir()
    gateway = {
        "thingsboard": {
            "host": "127.0.0.1",
            "port": mqtt_port,
            "remoteShell": False,
            "remoteConfiguration": False,
            "statistics": {"enable": False, "statsSendPeriodInSeconds": 3600},
            "checkConnectorsConfigurationInSeconds": 3600,
            "security": {"type": "accessToken", "accessToken": "bench"},
            "qos": 1,
            "reportStrategy": {"type": "ON_RECEIVED"},
        },
        "storage": {
            "type": "sqlite",
            "data_file_path": str(folder / "data" / "data.db"),
            "messages_ttl_check_in_hours": 1,
            "messages_ttl_in_days": 7,
        },
        "grpc": {"enabled": False},
        "connectors": [{"type": "modbus", "name": "Modbus", "configuration": "modbus.json"}],
    }
    slaves = [
        {
            "host": "127.0.0.1",
            "port": modbus_port,
            "type": "tcp",
            "method": "socket",
            "timeout": 1,
            "byteOrder": "BIG",
            "wordOrder": "BIG",
            "retries": True,
            "pollPeriod": 1000,
            "unitId": unit,
            "deviceName": f"P{unit - 1:04d}",
            "sendDataOnlyOnChange": False,
            "attributes": [],
            "timeseries": [
                {
                    "tag": "temperature",
                    "type": "16int",
                    "functionCode": 4,
                    "objectsCount": 1,
                    "address": 1,
                    "divider": 10,
                },
                {
                    "tag": "humidity",
                    "type": "16uint",
                    "functionCode": 4,
                    "objectsCount": 1,
                    "address": 2,
                    "divider": 10,
                },
            ],
            "attributeUpdates": [],
            "rpc": [],
        }
        for unit in range(1, DEVICES + 1)
    ]
    logs = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "plain",
                "filename": str(folder / "logs" / "peer.log"),
                "level": "ERROR",
            }
        },
        "root": {"level": "ERROR", "handlers": ["file"]},
    }
    (config / "tb_gateway.json").write_text(json.dumps(gateway, indent=1))
    (config / "modbus.json").write_text(json.dumps({"master": {"slaves": slaves}}, indent=1))
    (config / "logs.json").write_text(json.dumps(logs, indent=1))
    return config


@dataclass(frozen=True)
class PeerSample:
    cpu_percent: float
    rss_mb: float
    messages_per_s: int
    cpu_s: float
    cpu_per_message_us: float


def measure_peer(
    venv: Path, folder: Path, mqtt_port: int, warmup: float, seconds: float
) -> PeerSample:
    """CPU of the peer and any children (share of one core, seconds, per message seen on the
    broker), their peak RSS (MB) and the messages seen per second."""
    modbus_port = free_port()
    sim_config = write_config(folder, CASES["200x1s"], [modbus_port], {"mqtt": mqtt_port})
    config = peer_config(folder / "peer", modbus_port, mqtt_port)
    sim = (
        "sim", "modbus", "--config", str(sim_config), "--transport", "tcp",
        "--host", "127.0.0.1", "--port", str(modbus_port),
    )  # fmt: skip
    with child(*sim), open(folder / "peer.out", "wb") as out:
        counter = _ThingsBoard(mqtt_port)
        peer = subprocess.Popen(
            [str(venv / "bin" / "thingsboard-gateway")],
            cwd=folder / "peer",
            env=os.environ | {"TB_GW_CONFIG_DIR": str(config)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(warmup)
            process = psutil.Process(peer.pid)
            if peer.poll() is not None:
                raise SystemExit(f"the peer stopped: see {folder / 'peer.out'}")
            tree = [process, *process.children(recursive=True)]
            cpu_before = sum(cpu_s(p) for p in tree)
            counted = counter.count()
            started = time.monotonic()
            rss_peak = 0
            while time.monotonic() - started < seconds:
                rss_peak = max(rss_peak, sum(p.memory_info().rss for p in tree))
                time.sleep(0.5)
            cpu = sum(cpu_s(p) for p in tree) - cpu_before
            elapsed = time.monotonic() - started
            messages = counter.count() - counted
        finally:
            counter.stop()
            peer.send_signal(signal.SIGTERM)
            try:
                peer.wait(15)
            except subprocess.TimeoutExpired:
                peer.kill()
                peer.wait()
    return PeerSample(
        100 * cpu / elapsed,
        rss_peak / 1e6,
        int(messages / elapsed),
        cpu,
        1e6 * cpu / messages if messages else float("nan"),
    )


class _ThingsBoard:
    """What the peer needs of a ThingsBoard server beyond an MQTT broker: the answer to its
    `getSessionLimits` RPC (without one it never sends: it waits for its rate limits), here
    "no limits"; and a count of the messages it publishes."""

    LIMITS = json.dumps(
        {"rateLimits": {}, "gatewayRateLimits": {}, "maxPayloadSize": 65536,
         "maxInflightMessages": 100}
    )  # fmt: skip

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt

        self._seen = 0
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe("v1/gateway/#")
        self._client.subscribe("v1/devices/me/rpc/request/+")
        self._client.loop_start()

    def _on_message(self, _client: object, _userdata: object, message: Any) -> None:
        topic: str = message.topic
        if topic.startswith("v1/devices/me/rpc/request/"):
            if json.loads(message.payload).get("method") == "getSessionLimits":
                request = topic.rsplit("/", 1)[1]
                self._client.publish(f"v1/devices/me/rpc/response/{request}", self.LIMITS, qos=1)
            return
        self._seen += 1

    def count(self) -> int:
        return self._seen

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--coldchain-only", action="store_true", help="skip the peer")
    args = parser.parse_args()
    venv = None if args.coldchain_only else peer_venv()
    nothing = PeerSample(float("nan"), float("nan"), 0, float("nan"), float("nan"))
    rows: list[tuple[PeerSample, Sample]] = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        mosquitto = Mosquitto.create(root / "mosquitto")
        mosquitto.start()
        try:
            for round_ in range(args.rounds):
                peer = nothing
                if venv is not None:
                    work = root / f"peer-{round_}"
                    work.mkdir()
                    peer = measure_peer(venv, work, mosquitto.port, args.warmup, args.seconds)
                work = root / f"coldchain-{round_}"
                work.mkdir()
                ours = measure(
                    CASES["200x1s"], work, {"mqtt": mosquitto.port}, args.warmup, args.seconds
                )
                rows.append((peer, ours))
        finally:
            mosquitto.stop()
    print(
        f"{DEVICES} Modbus TCP devices polled every second, SQLite, MQTT to a local mosquitto;"
        f" {PEER} {PEER_VERSION} and coldchain alternately, {args.seconds:.0f} s each after"
        f" {args.warmup:.0f} s warm-up"
    )
    header = (
        f"{'round':>5} {'peer CPU %':>10} {'coldchain CPU %':>15} {'ratio':>6}"
        f" {'peer CPU s':>10} {'coldchain CPU s':>15}"
        f" {'peer µs/msg':>11} {'coldchain µs/reading':>20}"
        f" {'peer RSS MB':>11} {'coldchain RSS MB':>16} {'ratio':>6}"
        f" {'peer msgs/s':>11} {'coldchain readings/s':>20}"
    )
    print(header)
    print("-" * len(header))
    for number, (peer, ours) in enumerate(rows, 1):
        _row(str(number), peer, ours)
        if len(rows) > 1 and number == len(rows):
            _row("med", *_medians(rows))


def _row(label: str, peer: PeerSample, ours: Sample) -> None:
    print(
        f"{label:>5} {peer.cpu_percent:10.2f} {ours.cpu_percent:15.2f}"
        f" {ours.cpu_percent / peer.cpu_percent:6.2f}"
        f" {peer.cpu_s:10.2f} {ours.cpu_s:15.2f}"
        f" {peer.cpu_per_message_us:11.0f} {ours.cpu_per_reading_us:20.0f}"
        f" {peer.rss_mb:11.1f} {ours.rss_mb:16.1f} {ours.rss_mb / peer.rss_mb:6.2f}"
        f" {peer.messages_per_s:11d} {ours.per_second:20.1f}"
    )


def _medians(rows: list[tuple[PeerSample, Sample]]) -> tuple[PeerSample, Sample]:
    peers = [peer for peer, _ in rows]
    ours = [sample for _, sample in rows]
    peer = PeerSample(
        statistics.median(p.cpu_percent for p in peers),
        statistics.median(p.rss_mb for p in peers),
        int(statistics.median(p.messages_per_s for p in peers)),
        statistics.median(p.cpu_s for p in peers),
        statistics.median(p.cpu_per_message_us for p in peers),
    )
    sample = Sample(
        statistics.median(s.cpu_percent for s in ours),
        statistics.median(s.rss_mb for s in ours),
        statistics.median(s.per_second for s in ours),
        ours[0].expected,
        statistics.median(s.cpu_per_reading_us for s in ours),
        statistics.median(s.cpu_s for s in ours),
        statistics.median(s.seconds for s in ours),
    )
    return peer, sample


if __name__ == "__main__":
    main()
