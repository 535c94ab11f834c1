"""The gap a configuration change leaves in the other probes' readings: in place vs restart.

A gateway polls eight probes on four loggers of bus `main` every second (simulated, over
Modbus TCP).
Three changes are applied while it runs: a probe bound on another bus (in place: only that bus
starts), a probe bound on `main` itself (in place: `main` restarts), and a change that still
restarts the whole gateway ([store]). For each, the largest interval between two readings of
the eight `main` probes around the change is reported.
Run: `python -m bench.reload_gap [--interval 1.0]`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from firmware_sim.modbus_devices import ModbusSimulator, SimulatedChannel
from firmware_sim.modbus_server import TcpSimServer
from firmware_sim.scenarios import build_scenario
from gateway.core.clock import SystemClock
from gateway.core.compartments import CompartmentKind
from gateway.runtime import Gateway
from gateway.settings import Settings, parse_settings
from gateway.storage.readings import ReadingStore
from gateway.storage.registry import READINGS
from probes.profiles import builtin_profiles
from probes.settings import ModbusProbe

CHANNELS = 3
MAIN_PROBES = 8
SETTLE_S = 4.0
# Changes come 0.6 of an interval into the polling cycle (not in step with it), as in life.
PHASE = 0.6


def settings_for(data_dir: Path, port: int, interval: float) -> Settings:
    bus = {"transport": "tcp", "host": "127.0.0.1", "port": port, "timeout_s": 0.3}
    return parse_settings(
        {
            "unit": {"code": "6101030203", "name": "bench", "region_code": "610102"},
            "gateway": {"number": "10001", "data_dir": str(data_dir)},
            "http": {"port": 0},
            "store": {"flush_interval_s": 0.1},
            "buses": [bus | {"name": "main"}, bus | {"name": "spare"}],
            "fridges": [
                {
                    "code": "F1",
                    "name": "bench",
                    "kind": "cold_room",
                    "compartments": [
                        {"name": f"C{index}", "kind": "refrigerated"} for index in range(10)
                    ],
                }
            ],
            "probes": [
                probe(f"P{index}", "main", 1 + index // 2, index % 2, index, interval)
                for index in range(MAIN_PROBES)
            ],
        },
        "bench",
    )


def probe(code: str, bus: str, device: int, channel: int, slot: int, interval: float) -> dict:
    return {
        "code": code,
        "bus": bus,
        "device_id": device,
        "channel": channel,
        "profile": "logger-8ch",
        "compartment": f"F1/C{slot}",
        "poll_interval_s": interval,
    }


def with_probe(settings: Settings, fields: dict) -> Settings:
    return settings.model_copy(
        update={"probes": [*settings.probes, ModbusProbe.model_validate(fields)]}
    )


def largest_gap(data_dir: Path, around: datetime, interval: float) -> float:
    since, until = around - timedelta(seconds=SETTLE_S / 2), around + timedelta(seconds=SETTLE_S)
    with ReadingStore(data_dir / READINGS.file) as store:
        gaps = []
        for index in range(MAIN_PROBES):
            times = [row.reading.taken_at for row in store.readings(f"P{index}", since, until)]
            gaps += [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    return max(gaps, default=float("nan"))


async def measure(interval: float) -> list[tuple[str, float]]:
    clock = SystemClock()
    logger = builtin_profiles()["logger-8ch"]
    channels = [
        SimulatedChannel(
            device, index, logger, CompartmentKind.REFRIGERATED, build_scenario("steady")
        )
        for device in (1, 2, 3, 4, 5)
        for index in range(CHANNELS)
    ]
    results = []
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        async with TcpSimServer(ModbusSimulator(channels, clock), "127.0.0.1", 0) as sim:
            base = settings_for(data_dir, sim.port, interval)
            stop = asyncio.Event()
            gateway = Gateway(base, clock)
            running = asyncio.create_task(gateway.run(stop))
            await asyncio.sleep(SETTLE_S + PHASE * interval)
            changes = [
                (
                    "bind on another bus (in place)",
                    with_probe(base, probe("S0", "spare", 5, 0, 8, interval)),
                ),
                (
                    "bind on the same bus (in place)",
                    with_probe(base, probe("P8", "main", 4, 2, 9, interval)),
                ),
                (
                    "[store] change (full restart)",
                    base.model_copy(
                        update={"store": base.store.model_copy(update={"retention_days": 30})}
                    ),
                ),
            ]
            for name, settings in changes:
                at = clock.now()
                await gateway.apply(settings)
                if gateway.reloaded is not None:
                    await running
                    gateway = Gateway(gateway.reloaded, clock)
                    running = asyncio.create_task(gateway.run(stop))
                await asyncio.sleep(SETTLE_S + PHASE * interval)
                results.append((name, largest_gap(data_dir, at, interval)))
            stop.set()
            await running
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval, seconds")
    args = parser.parse_args()
    results = asyncio.run(measure(args.interval))
    width = max(len(name) for name, _ in results)
    print(f"{'change'.ljust(width)}  {'largest gap s':>13}  {'interval s':>10}")
    for name, gap in results:
        print(f"{name.ljust(width)}  {gap:>13.3f}  {args.interval:>10.3f}")


if __name__ == "__main__":
    main()
