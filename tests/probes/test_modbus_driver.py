"""The Modbus driver against firmware_sim devices over real TCP and RTU (a socat pty pair)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from pymodbus.exceptions import ModbusException

from firmware_sim.modbus_devices import ModbusSimulator, SimulatedChannel
from firmware_sim.modbus_server import RtuSimServer, TcpSimServer
from firmware_sim.pty_pair import pty_pair
from firmware_sim.scenarios import build_scenario
from gateway.core.clock import SystemClock
from gateway.core.compartments import CompartmentKind
from probes.modbus import ModbusBusDriver, PolledDevice
from probes.profiles import builtin_profiles
from probes.reading import ProbeStatus, Reading
from probes.settings import RtuBus, TcpBus

pytestmark = pytest.mark.asyncio

PROFILES = builtin_profiles()
POLL_S = 0.05


def channels(*device_ids: int, scenario: str = "steady") -> list[SimulatedChannel]:
    return [
        SimulatedChannel(
            device_id,
            0,
            PROFILES["rs485-th"],
            CompartmentKind.REFRIGERATED,
            build_scenario(scenario, seed=device_id),
        )
        for device_id in device_ids
    ]


def polled(*device_ids: int) -> list[PolledDevice]:
    return [
        PolledDevice(device_id, PROFILES["rs485-th"], {0: f"P{device_id}"}, POLL_S)
        for device_id in device_ids
    ]


def tcp_bus(port: int, **overrides: object) -> TcpBus:
    fields: dict[str, object] = {
        "name": "lan",
        "transport": "tcp",
        "host": "127.0.0.1",
        "port": port,
        "timeout_s": 0.2,
        "retries": 1,
        "inter_frame_gap_ms": 1,
        "unavailable_after": 3,
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.2,
    }
    return TcpBus.model_validate(fields | overrides)


class Collected:
    def __init__(self) -> None:
        self.readings: list[Reading] = []

    async def put(self, reading: Reading) -> None:
        self.readings.append(reading)

    def of(self, probe: str) -> list[Reading]:
        return [reading for reading in self.readings if reading.probe == probe]


@contextlib.asynccontextmanager
async def running(driver: ModbusBusDriver) -> AsyncIterator[None]:
    task = asyncio.create_task(driver.run(), name=f"bus:{driver.name}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    async with asyncio.timeout(within_s):
        while not condition():
            await asyncio.sleep(0.01)


async def test_readings_flow_with_acquisition_time_and_humidity() -> None:
    simulator = ModbusSimulator(channels(1, 2), SystemClock())
    collected = Collected()
    async with TcpSimServer(simulator) as server:
        driver = ModbusBusDriver(tcp_bus(server.port), polled(1, 2), collected.put, SystemClock())
        async with running(driver):
            await until(lambda: len(collected.of("P1")) >= 3 and len(collected.of("P2")) >= 3)
    for reading in collected.readings:
        assert reading.status is ProbeStatus.OK
        assert reading.temperature is not None
        assert 2.0 <= reading.temperature <= 8.0
        assert reading.humidity is not None
        assert reading.taken_at.utcoffset() is not None
    assert driver.health.connected is False  # closed on cancellation


class DriverLog(logging.Handler):
    """The driver's own log lines, collected at INFO and above."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@pytest.fixture
def driver_log() -> Iterator[DriverLog]:
    logger = logging.getLogger("probes.modbus")
    handler = DriverLog()
    previous = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


async def test_a_dead_slave_never_stops_the_others_and_recovers_by_itself(
    driver_log: DriverLog,
) -> None:
    simulator = ModbusSimulator(channels(1, 2, 3), SystemClock())
    collected = Collected()
    async with TcpSimServer(simulator) as server:
        devices = polled(1, 2, 3)
        driver = ModbusBusDriver(tcp_bus(server.port), devices, collected.put, SystemClock())
        async with running(driver):
            await until(lambda: len(collected.of("P2")) >= 2)
            simulator.faults(2).silent = True
            await until(lambda: any(r.status is ProbeStatus.BUS_ERROR for r in collected.of("P2")))
            errors_at = len(collected.of("P1"))
            await until(lambda: len(collected.of("P1")) >= errors_at + 5)
            assert devices[1].unavailable
            assert devices[1].failures >= 3
            assert devices[1].last_error == "no response (timeout)"
            simulator.faults(2).silent = False
            await until(lambda: collected.of("P2")[-1].status is ProbeStatus.OK)
    p2 = collected.of("P2")
    first_error = next(i for i, r in enumerate(p2) if r.status is ProbeStatus.BUS_ERROR)
    assert all(r.status is ProbeStatus.OK for r in p2[:first_error])
    assert all(r.temperature is None for r in p2 if r.status is ProbeStatus.BUS_ERROR)
    assert all(r.status is ProbeStatus.OK for r in collected.of("P1") + collected.of("P3"))
    assert not devices[1].unavailable
    unavailable = [m for m in driver_log.messages if "unavailable after 3 failed polls" in m]
    assert len(unavailable) == 1, "the fault is logged once, not at every poll"
    assert any("answers again" in m for m in driver_log.messages)


async def test_one_lost_reply_is_retried_within_the_poll() -> None:
    simulator = ModbusSimulator(channels(1), SystemClock(), seed=3)
    simulator.faults(1).drop_probability = 0.3
    collected = Collected()
    async with TcpSimServer(simulator) as server:
        devices = polled(1)
        bus = tcp_bus(server.port, retries=3, unavailable_after=3)
        driver = ModbusBusDriver(bus, devices, collected.put, SystemClock())
        async with running(driver):
            await until(lambda: len(collected.readings) >= 20, within_s=20)
    assert all(r.status is ProbeStatus.OK for r in collected.readings)


async def test_a_disconnected_sensor_is_never_a_temperature() -> None:
    sim_channels = [
        SimulatedChannel(
            1,
            0,
            PROFILES["pt100"],
            CompartmentKind.FROZEN,
            build_scenario("probe-disconnected", seed=1, onset_s=0),
        )
    ]
    simulator = ModbusSimulator(sim_channels, SystemClock())
    collected = Collected()
    async with TcpSimServer(simulator) as server:
        devices = [PolledDevice(1, PROFILES["pt100"], {0: "Z1"}, POLL_S)]
        driver = ModbusBusDriver(tcp_bus(server.port), devices, collected.put, SystemClock())
        async with running(driver):
            await until(lambda: len(collected.readings) >= 3)
    assert {r.status for r in collected.readings} == {ProbeStatus.DISCONNECTED}
    assert all(r.temperature is None for r in collected.readings)


async def test_an_absent_device_id_counts_as_a_failure_not_a_crash() -> None:
    simulator = ModbusSimulator(channels(1), SystemClock())
    collected = Collected()
    async with TcpSimServer(simulator) as server:
        devices = polled(1, 9)
        driver = ModbusBusDriver(tcp_bus(server.port), devices, collected.put, SystemClock())
        async with running(driver):
            await until(lambda: len(collected.of("P9")) >= 1)
            await until(lambda: len(collected.of("P1")) >= 10)
    assert {r.status for r in collected.of("P9")} == {ProbeStatus.BUS_ERROR}
    assert {r.status for r in collected.of("P1")} == {ProbeStatus.OK}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_the_link_reconnects_with_backoff_when_the_server_returns(
    driver_log: DriverLog,
) -> None:
    port = free_port()
    simulator = ModbusSimulator(channels(1), SystemClock())
    collected = Collected()
    devices = polled(1)
    driver = ModbusBusDriver(tcp_bus(port), devices, collected.put, SystemClock())
    async with running(driver):
        await until(lambda: len(collected.readings) >= 1)
        assert driver.health.link_error is not None
        assert f"cannot connect to Modbus TCP 127.0.0.1:{port}" in driver.health.link_error
        assert {r.status for r in collected.readings} == {ProbeStatus.BUS_ERROR}
        async with TcpSimServer(simulator, port=port):
            await until(lambda: collected.readings[-1].status is ProbeStatus.OK)
            assert driver.health.connected
            assert driver.health.link_error is None
        outage_start = len(collected.readings)
        await until(
            lambda: (
                collected.readings[-1].status is ProbeStatus.BUS_ERROR
                and len(collected.readings) > outage_start
            )
        )
    assert driver.health.reconnects >= 1
    link_warnings = [
        record.getMessage()
        for record in driver_log.records
        if record.levelno == logging.WARNING and "retrying in" in record.getMessage()
    ]
    assert len(link_warnings) == 2, "a down link is reported once per outage, not per retry"


async def test_a_missing_serial_port_is_a_clear_error_and_retried(tmp_path: Path) -> None:
    bus = RtuBus(
        name="rs485",
        transport="rtu",
        device=str(tmp_path / "ttyUSB9"),
        timeout_s=0.1,
        unavailable_after=2,
        backoff_initial_s=0.05,
        backoff_max_s=0.1,
    )
    collected = Collected()
    driver = ModbusBusDriver(bus, polled(1), collected.put, SystemClock())
    async with running(driver):
        await until(lambda: driver.health.reconnects >= 3)
        await until(lambda: len(collected.readings) >= 1)
    assert driver.health.link_error is not None
    assert "ttyUSB9 does not exist" in driver.health.link_error
    assert "/dev/serial/by-id" in driver.health.link_error
    assert {r.status for r in collected.readings} == {ProbeStatus.BUS_ERROR}


async def test_rtu_over_a_pty_with_a_bad_crc_device(tmp_path: Path) -> None:
    simulator = ModbusSimulator(channels(1, 2), SystemClock())
    collected = Collected()
    async with pty_pair(tmp_path) as pair, RtuSimServer(simulator, str(pair.a)):
        bus = RtuBus(
            name="rs485",
            transport="rtu",
            device=str(pair.b),
            timeout_s=0.2,
            retries=0,
            inter_frame_gap_ms=2,
            unavailable_after=2,
        )
        devices = polled(1, 2)
        driver = ModbusBusDriver(bus, devices, collected.put, SystemClock())
        async with running(driver):
            await until(lambda: len(collected.of("P1")) >= 2 and len(collected.of("P2")) >= 2)
            simulator.faults(2).bad_crc = True
            await until(lambda: collected.of("P2")[-1].status is ProbeStatus.BUS_ERROR)
            before = len(collected.of("P1"))
            await until(lambda: len(collected.of("P1")) >= before + 3)
    assert all(r.status is ProbeStatus.OK for r in collected.of("P1"))
    assert devices[1].unavailable


async def test_a_modbus_exception_response_is_a_failure_with_its_code() -> None:
    """A device read with the wrong profile (holding register 0 of a transmitter whose map is
    input registers 1-2) answers exception 2, illegal data address; the poll fails and no
    number is stored."""
    simulator = ModbusSimulator(channels(1), SystemClock())
    collected = Collected()
    async with TcpSimServer(simulator) as server:
        devices = [PolledDevice(1, PROFILES["pt100"], {0: "P1"}, POLL_S)]
        bus = tcp_bus(server.port, unavailable_after=1, retries=0)
        driver = ModbusBusDriver(bus, devices, collected.put, SystemClock())
        async with running(driver):
            await until(lambda: len(collected.readings) >= 2)
    assert devices[0].last_error == "exception response, code 2"
    assert {r.status for r in collected.readings} == {ProbeStatus.BUS_ERROR}
    assert all(r.temperature is None for r in collected.readings)


class SwallowingClient:
    """A client whose read turns a cancellation into a Modbus error, as `asyncio.wait_for`
    inside pymodbus can on Python 3.11 when the reply and the cancellation come together."""

    connected = True

    def __init__(self, bus: object) -> None:
        self.reads = 0

    async def connect(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to close."""

    async def read_holding_registers(self, address: int, **_: object) -> object:
        self.reads += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise ModbusException("timed out") from None
        raise AssertionError("never answered")

    read_input_registers = read_holding_registers


async def test_a_cancellation_the_client_swallowed_still_stops_the_driver() -> None:
    async def ignore(reading: Reading) -> None:
        """Nothing is read here."""

    driver = ModbusBusDriver(
        tcp_bus(1, retries=3), polled(1), ignore, SystemClock(), client_factory=SwallowingClient
    )
    task = asyncio.create_task(driver.run())
    while driver.devices[0].polls == 0:
        await asyncio.sleep(0.01)
    task.cancel()  # once: the driver must not take the swallowed error for a failed poll
    done, _ = await asyncio.wait([task], timeout=2.0)
    for _attempt in range(50):  # a driver that went on polling is stopped before it fails
        if task.done():
            break
        task.cancel()
        await asyncio.wait([task], timeout=0.1)
    assert done == {task}
    assert task.cancelled()
