"""200 probes polled every second over Modbus TCP: the gateway's CPU share and resident memory.

Runs the simulator and the gateway as two processes (as on a real site, where the devices are
elsewhere), lets the gateway warm up, then samples the gateway process alone with psutil.
Run: `python -m bench.modbus_poll [--devices 200] [--seconds 30]`.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import psutil

from bench.cpu import cpu_s

CONFIG = """
[unit]
code = "6101030203"
name = "bench"
region_code = "610102"

[gateway]
number = "10001"
data_dir = "{data_dir}"

[http]
host = "127.0.0.1"
port = {http_port}

[[buses]]
name = "lan"
transport = "tcp"
host = "127.0.0.1"
port = {modbus_port}
timeout_s = 0.5

[[fridges]]
code = "F1"
name = "bench"
kind = "cold_room"
"""

COMPARTMENT = """
  [[fridges.compartments]]
  name = "C{index:03d}"
  kind = "refrigerated"
"""

PROBE = """
[[probes]]
code = "P{index:03d}"
bus = "lan"
device_id = {index}
profile = "rs485-th"
compartment = "F1/C{index:03d}"
poll_interval_s = 1
"""

TARGET_CPU_PERCENT = 10.0
TARGET_RSS_MB = 60.0
PEER_CPU_PERCENT = 12.4
PEER_RSS_MB = 74.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(folder: Path, devices: int) -> tuple[Path, int, int]:
    http_port, modbus_port = free_port(), free_port()
    text = CONFIG.format(
        data_dir=folder / "data",
        http_port=http_port,
        modbus_port=modbus_port,
        devices=devices,
    )
    indices = range(1, devices + 1)
    text += "".join(COMPARTMENT.format(index=index) for index in indices)
    text += "".join(PROBE.format(index=index) for index in indices)
    path = folder / "bench.toml"
    path.write_text(text, encoding="utf-8")
    return path, http_port, modbus_port


#: The project's packages (pyproject.toml's `packages.find`).
PACKAGES = ("gateway", "probes", "alerts", "firmware_sim", "ledger", "analysis")
ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def byte_compiled() -> None:
    """Byte-compile the project's packages as installing them does, so that the children load
    .pyc files like an installed gateway: one that compiles its sources at start-up (a checkout
    run with PYTHONDONTWRITEBYTECODE set) keeps 1-1.5 MB more resident of the compiler's leavings.
    """
    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1)


@contextlib.contextmanager
def child(*args: str) -> Iterator[subprocess.Popen[bytes]]:
    """A `coldchain` child process, started once it printed its first line of output."""
    byte_compiled()
    with tempfile.TemporaryFile() as errors:
        yield from _child(errors, args)


def _child(errors: IO[bytes], args: tuple[str, ...]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", *args],
        stdout=subprocess.PIPE,
        stderr=errors,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    if not process.stdout.readline():
        process.wait()
        errors.seek(0)
        raise SystemExit(f"coldchain {args[0]} did not start:\n{errors.read().decode()}")
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def health(http_port: int) -> dict[str, object]:
    url = f"http://127.0.0.1:{http_port}/api/health"
    with urllib.request.urlopen(url, timeout=5) as response:
        body: dict[str, object] = json.load(response)
        return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        config, http_port, modbus_port = write_config(Path(folder), args.devices)
        with child(
            "sim",
            "modbus",
            "--config",
            str(config),
            "--transport",
            "tcp",
            "--host",
            "127.0.0.1",
            "--port",
            str(modbus_port),
        ) as simulator:
            del simulator
            with child("run", "--config", str(config)) as gateway:
                process = psutil.Process(gateway.pid)
                time.sleep(args.warmup)
                before = health(http_port)
                cpu_before = cpu_s(process)
                started = time.monotonic()
                rss_peak = 0
                while time.monotonic() - started < args.seconds:
                    rss_peak = max(rss_peak, process.memory_info().rss)
                    time.sleep(0.5)
                cpu_after = cpu_s(process)
                elapsed = time.monotonic() - started
                after = health(http_port)

    cpu = cpu_after - cpu_before
    store_before = before["store"]
    store_after = after["store"]
    assert isinstance(store_before, dict)
    assert isinstance(store_after, dict)
    written = store_after["readings_written"] - store_before["readings_written"]
    not_ok = after["probes_not_ok"]
    assert isinstance(not_ok, list)
    rows = [
        ("devices polled every second", f"{args.devices}", ""),
        ("readings stored per second", f"{written / elapsed:,.1f}", f"expected {args.devices}"),
        ("probes not ok at the end", f"{len(not_ok)}", "expected 0"),
        (
            "gateway CPU, % of one core",
            f"{100 * cpu / elapsed:.2f}",
            f"target < {TARGET_CPU_PERCENT}; peer {PEER_CPU_PERCENT}",
        ),
        ("CPU per reading, µs", f"{1e6 * cpu / max(written, 1):.0f}", ""),
        (
            "gateway resident memory, MB (peak)",
            f"{rss_peak / 1e6:.1f}",
            f"target < {TARGET_RSS_MB}; peer {PEER_RSS_MB}",
        ),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"{'figure'.ljust(width)}  {'measured':>12}  note")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>12}  {note}")


if __name__ == "__main__":
    main()
