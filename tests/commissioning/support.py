"""A small clinic configuration for the commissioning tests, with comments to keep, and a
simulated clock that waits for the gateway's polls."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from firmware_sim.modbus_devices import ModbusSimulator, SimulatedChannel
from firmware_sim.scenarios import build_scenario
from gateway.core.clock import FakeClock, SystemClock
from gateway.core.compartments import CompartmentKind
from probes.profiles import builtin_profiles
from tests.e2e.support import CLINIC_HEADER

CLINIC = (
    "# 测试门诊: the technician's comments must survive every form"
    + CLINIC_HEADER
    + """
[store]
flush_interval_s = 0.05

[[buses]]
name = "main"  # the logger on the wall
transport = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.3

[[buses]]
name = "spare"  # the same converter, the probes commissioned later
transport = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.3

[[fridges]]
code = "F1"
name = "海尔冰箱"
kind = "refrigerator"
  [[fridges.compartments]]
  name = "冷藏"
  kind = "refrigerated"
  probes = 4
  [[fridges.compartments]]
  name = "冷冻"
  kind = "frozen"

[[fridges]]
code = "F2"
name = "美菱冰箱"
kind = "refrigerator"
  [[fridges.compartments]]
  name = "冷藏"
  kind = "refrigerated"
{probes}"""
)


def probe_toml(
    code: str, bus: str, device: int, channel: int, compartment: str, interval: float
) -> str:
    return (
        f'\n[[probes]]  # {code}\ncode = "{code}"\nbus = "{bus}"\ndevice_id = {device}\n'
        f'channel = {channel}\nprofile = "logger-8ch"\ncompartment = "{compartment}"\n'
        f"poll_interval_s = {interval}\n"
    )


def clinic_text(data_dir: Path, port: int, interval: float = 1.0, channels: int = 3) -> str:
    probes = "".join(
        probe_toml(f"20860{channel}", "main", 1, channel, "F1/冷藏", interval)
        for channel in range(channels)
    )
    probes += probe_toml("208610", "main", 2, 0, "F1/冷冻", interval)
    return CLINIC.format(data_dir=data_dir, port=port, probes=probes)


def write_clinic(folder: Path, port: int = 1502, interval: float = 1.0) -> Path:
    path = folder / "gateway.toml"
    path.write_text(clinic_text(folder / "data", port, interval), encoding="utf-8")
    return path


def channel(device: int, index: int, profile: str, kind: CompartmentKind) -> SimulatedChannel:
    return SimulatedChannel(
        device, index, builtin_profiles()[profile], kind, build_scenario("steady", seed=device)
    )


def simulator() -> ModbusSimulator:
    """A logger with three probes at 1, a PT100 freezer transmitter at 2, a T/H sensor at 5."""
    return ModbusSimulator(
        [
            *(channel(1, index, "logger-8ch", CompartmentKind.REFRIGERATED) for index in range(3)),
            channel(2, 0, "pt100", CompartmentKind.FROZEN),
            channel(5, 0, "rs485-th", CompartmentKind.REFRIGERATED),
        ],
        SystemClock(),
    )


class PolledTime:
    """Simulated time for a running gateway: a `FakeClock` moved on in small steps, held
    still while a Modbus bus driver is at work between two of its sleeps (a poll waiting for
    its reply on loopback, a driver just started).

    Each reading then carries the simulated time its poll was due however slow the machine
    is, so the gaps between readings are the polling schedule's own: a lost poll or a
    disturbed schedule shows, machine load does not. At most `step_s` simulated seconds pass
    per `pace_s` real seconds.
    """

    def __init__(self, clock: FakeClock, *, step_s: float = 0.1, pace_s: float = 0.025) -> None:
        self._clock = clock
        self._step_s = step_s
        self._pace_s = pace_s
        self._task: asyncio.Task[None] | None = None
        clock.hold(self._polling)

    async def __aenter__(self) -> PolledTime:
        self._task = asyncio.create_task(self._tick(), name="polled-time")
        return self

    async def __aexit__(self, *_: object) -> None:
        task = self._task
        assert task is not None
        if task.done():
            task.result()  # the clock's own failure: a poll that never ended
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of simulated time (failing at once if the clock stopped moving)."""
        task = self._task
        assert task is not None
        sleeping = asyncio.ensure_future(self._clock.sleep(seconds))
        await asyncio.wait([sleeping, task], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            sleeping.cancel()
            task.result()
            raise AssertionError("the simulated clock stopped")

    def _polling(self) -> str | None:
        awake = [
            task.get_name()
            for task in asyncio.all_tasks()
            if task.get_name().startswith("bus:")
            and not task.done()
            and not self._clock.asleep(task)
        ]
        return ", ".join(sorted(awake)) or None

    async def _tick(self) -> None:
        while True:
            started = time.monotonic()
            await self._clock.advance(self._step_s)
            await asyncio.sleep(max(0.0, started + self._pace_s - time.monotonic()))
