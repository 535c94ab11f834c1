"""The Modbus driver's schedule on a fake clock and an instant link: devices due together share
one wake-up, and none is polled before `early_s` of its due time or lost."""

from __future__ import annotations

import asyncio

import pytest

from gateway.core.clock import FakeClock
from probes.modbus import EARLY_FRACTION, EARLY_MAX_S, ModbusBusDriver, PolledDevice
from tests.probes.test_modbus_driver import PROFILES, Collected, running, tcp_bus

pytestmark = pytest.mark.asyncio


class Answer:
    """A good reply of an rs485-th transmitter: 5.0 °C, 60.0 %."""

    registers = (50, 600)

    def isError(self) -> bool:  # noqa: N802 (pymodbus' name)
        return False


class InstantClient:
    """A client on a fast link: every device answers at once; each read notes the device and
    the clock's time."""

    connected = True

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.reads: list[tuple[int, float]] = []

    async def connect(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to close."""

    async def read_input_registers(self, address: int, *, device_id: int, **_: object) -> Answer:
        self.reads.append((device_id, self.clock.monotonic()))
        await asyncio.sleep(0)  # a real read waits for its reply
        return Answer()

    read_holding_registers = read_input_registers


class CountingClock(FakeClock):
    """A fake clock that counts how often a driver waits on it (each wait is a wake-up)."""

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    async def sleep(self, seconds: float) -> None:
        self.waits += 1
        await super().sleep(seconds)


@pytest.mark.parametrize(("devices", "interval_s"), [(20, 1.0), (20, 60.0), (1, 1.0)])
async def test_devices_due_together_share_a_wake_up_and_keep_their_schedule(
    devices: int, interval_s: float
) -> None:
    clock = CountingClock()
    client = InstantClient(clock)
    polled_devices = [
        PolledDevice(device_id, PROFILES["rs485-th"], {0: f"P{device_id}"}, interval_s)
        for device_id in range(1, devices + 1)
    ]
    collected = Collected()
    bus = tcp_bus(1, inter_frame_gap_ms=0)
    driver = ModbusBusDriver(
        bus, polled_devices, collected.put, clock, client_factory=lambda _bus: client
    )
    horizon = interval_s * 10
    async with running(driver):
        await clock.advance(horizon)
    early = min(interval_s * EARLY_FRACTION, EARLY_MAX_S)
    for index, device in enumerate(polled_devices):
        times = [at for device_id, at in client.reads if device_id == device.device_id]
        dues = [interval_s * (index / devices + cycle) for cycle in range(11)]
        on_time = [due for due in dues if due <= horizon]
        assert len(on_time) <= len(times) <= len([due for due in dues if due - early <= horizon])
        for at, due in zip(times, dues, strict=False):
            assert due - early - 1e-9 <= at <= due + 1e-9, (device.device_id, at, due)
    assert len(collected.readings) == len(client.reads)
    assert all(reading.temperature == 5.0 for reading in collected.readings)
    spacing = interval_s / devices
    if 2 * spacing <= early:
        # 20 devices 50 ms apart, at most 100 ms early: three polls to a wake-up.
        assert clock.waits <= len(client.reads) / 2
    else:
        # 20 devices 3 s apart: a wake-up each (a 60 s interval is at most 1 s early).
        assert spacing > early
        assert clock.waits >= len(client.reads) - 1
