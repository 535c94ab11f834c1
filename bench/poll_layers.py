"""Where a polled reading's CPU goes: each layer of the Modbus TCP path measured alone.

Runs the simulator as its own process (bench/gateway_load.py's `200x1s` devices, one TCP
connection) and, in this process, one layer at a time for `--seconds` each, 200 devices at one
poll a second; CPU seconds (user + system) of this process per reading:

- `floor`: a Modbus TCP request and its reply over a bare asyncio protocol (frames built with
  `struct`, no pymodbus), polls due together grouped as the driver groups them: what the event
  loop's turns and the socket calls cost. For measuring only: the gateway uses pymodbus;
- `pymodbus-timer`: pymodbus' client, a timer and a wake-up for every poll (as the driver polled
  before it grouped polls due together);
- `pymodbus`: pymodbus' client, polls grouped;
- `driver`: `probes.modbus.ModbusBusDriver` (decode, the `Reading`, the schedule), readings
  handed to a function that counts them;
- `recorder`: the driver, the clock-sync flag and the recorder committing to a readings store in
  a temporary folder, as the gateway wires them.

A layer's own cost is the difference from the one above it; the whole gateway (MQTT, the cursor,
the pages on top) is `bench.gateway_load --case 200x1s`.
Run: `python -m bench.poll_layers [--seconds 20] [--rounds 2] [--layer floor --layer driver ...]`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import struct
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from pymodbus.client import AsyncModbusTcpClient

from bench.cpu import own_cpu_s
from bench.gateway_load import CASES, write_config
from bench.modbus_poll import child, free_port
from gateway.core.clock import SystemClock
from probes.modbus import EARLY_FRACTION, EARLY_MAX_S
from probes.reading import Reading

DEVICES = 200
#: As the driver: a device due within this many seconds of the poll before is polled at once
#: (each device is polled once a second).
EARLY_S = min(1.0 * EARLY_FRACTION, EARLY_MAX_S)
WARMUP_S = 2.0


class _Reply(asyncio.Protocol):
    """Hands each reply to the waiting request."""

    def __init__(self) -> None:
        self.waiting: asyncio.Future[bytes] | None = None

    def data_received(self, data: bytes) -> None:
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_result(data)


async def _paced(
    poll: Callable[[int], Awaitable[None]], seconds: float, grouped: bool
) -> tuple[int, float]:
    """Poll devices 1..DEVICES in turn, DEVICES a second: the polls made and the CPU seconds
    spent in `seconds` after the warm-up."""
    loop = asyncio.get_running_loop()
    due = loop.time()
    early = EARLY_S if grouped else 0.0
    polls = 0
    window: tuple[int, float, float] | None = None  # polls, CPU and loop time at its start
    while window is None or loop.time() < window[2] + seconds:
        due += 1 / DEVICES
        wait = due - loop.time()
        if wait > early:
            await asyncio.sleep(wait)
        await poll(polls % DEVICES + 1)
        polls += 1
        if window is None and polls == int(WARMUP_S * DEVICES):
            window = (polls, own_cpu_s(), loop.time())
    return polls - window[0], own_cpu_s() - window[1]


async def floor(port: int, seconds: float, _config: Path) -> tuple[int, float]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(_Reply, "127.0.0.1", port)
    tid = 0

    async def poll(device: int) -> None:
        nonlocal tid
        tid = tid % 65535 + 1
        protocol.waiting = loop.create_future()
        # MBAP header, then function 4 (read input registers) from address 1, 2 registers.
        transport.write(struct.pack(">HHHBBHH", tid, 0, 6, device, 4, 1, 2))
        reply = await asyncio.wait_for(protocol.waiting, 0.5)
        if struct.unpack(">H", reply[:2])[0] != tid:
            raise SystemExit(f"device {device}: reply to another request")

    try:
        return await _paced(poll, seconds, grouped=True)
    finally:
        transport.close()


async def _pymodbus(port: int, seconds: float, grouped: bool) -> tuple[int, float]:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=0.5, retries=0, reconnect_delay=0)
    await client.connect()

    async def poll(device: int) -> None:
        response = await client.read_input_registers(1, count=2, device_id=device)
        if response.isError():
            raise SystemExit(f"device {device}: {response}")

    try:
        return await _paced(poll, seconds, grouped)
    finally:
        client.close()


async def pymodbus_timer(port: int, seconds: float, _config: Path) -> tuple[int, float]:
    return await _pymodbus(port, seconds, grouped=False)


async def pymodbus_grouped(port: int, seconds: float, _config: Path) -> tuple[int, float]:
    return await _pymodbus(port, seconds, grouped=True)


async def _driver(seconds: float, config: Path, *, record: bool) -> tuple[int, float]:
    from gateway.readings.clock_sync import ClockSync
    from gateway.readings.recorder import Recorder
    from gateway.settings import load_settings
    from gateway.storage.readings import ReadingStore
    from probes.modbus import ModbusBusDriver, devices_on_bus
    from probes.settings import ModbusProbe
    from probes.time_integrity import flag_unsynced

    settings = load_settings(config)
    clock = SystemClock()
    bus = settings.buses[0]
    devices = devices_on_bus(settings.probes_of(ModbusProbe), settings.all_profiles(), bus.name)
    seen = 0

    async def count(_reading: Reading) -> None:
        nonlocal seen
        seen += 1

    with tempfile.TemporaryDirectory() as folder:
        store = ReadingStore(Path(folder) / "readings.db", synchronous=settings.store.synchronous)
        recorder = Recorder(store, clock, settings.store)

        async def counted(reading: Reading) -> None:
            await count(reading)
            await recorder.put(reading)

        emit = flag_unsynced(counted, ClockSync(clock)) if record else count
        driver = ModbusBusDriver(bus, devices, emit, clock)
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(driver.run())]
                if record:
                    tasks.append(group.create_task(recorder.run()))
                await asyncio.sleep(WARMUP_S)
                before, started = seen, own_cpu_s()
                await asyncio.sleep(seconds)
                after, spent = seen, own_cpu_s() - started
                for task in tasks:
                    task.cancel()
        finally:
            store.close()
    return after - before, spent


async def driver(_port: int, seconds: float, config: Path) -> tuple[int, float]:
    return await _driver(seconds, config, record=False)


async def recorder(_port: int, seconds: float, config: Path) -> tuple[int, float]:
    return await _driver(seconds, config, record=True)


LAYERS = {
    "floor": floor,
    "pymodbus-timer": pymodbus_timer,
    "pymodbus": pymodbus_grouped,
    "driver": driver,
    "recorder": recorder,
}


async def run(layers: list[str], seconds: float, rounds: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in layers}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        port = free_port()
        config = write_config(root, dataclasses.replace(CASES["200x1s"], mqtt=False), [port], {})
        sim = (
            "sim", "modbus", "--config", str(config), "--bus", "lan", "--transport", "tcp",
            "--host", "127.0.0.1", "--port", str(port),
        )  # fmt: skip
        with child(*sim):
            for _round in range(rounds):
                for name in layers:
                    count, spent = await LAYERS[name](port, seconds, config)
                    results[name].append(1e6 * spent / count)
                    print(f"  {name:15} {count:6d} readings  {spent:5.2f} CPU s", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layer", action="append", choices=list(LAYERS))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    layers = args.layer or list(LAYERS)
    started = time.monotonic()
    results = asyncio.run(run(layers, args.seconds, args.rounds))
    print(
        f"{DEVICES} Modbus TCP devices at 1/s, {args.rounds} rounds of {args.seconds:.0f} s per"
        f" layer ({time.monotonic() - started:.0f} s in all); CPU µs per reading"
    )
    header = f"{'layer':15} {'median':>7}  rounds"
    print(header)
    print("-" * len(header))
    for name, values in results.items():
        rounds = " ".join(f"{value:.0f}" for value in values)
        print(f"{name:15} {statistics.median(values):7.0f}  {rounds}")


if __name__ == "__main__":
    main()
