"""The simulated devices over Modbus RTU on a socat pty pair, read with pymodbus's client."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerRTU
from pymodbus.pdu import ExceptionResponse

from firmware_sim import SimulatorError
from firmware_sim.modbus_devices import ModbusSimulator
from firmware_sim.modbus_server import RtuSimServer
from firmware_sim.pty_pair import pty_pair
from gateway.core.clock import FakeClock
from gateway.core.compartments import CompartmentKind
from probes.modbus_decode import decode_channel
from probes.reading import ProbeStatus


def crc_ok(frame: bytes) -> bool:
    return FramerRTU.check_CRC(frame[:-2], int.from_bytes(frame[-2:], "big"))


@pytest.mark.asyncio
async def test_every_profile_reads_back_over_rtu(start_rtu, channel, clock: FakeClock) -> None:
    simulator, client = await start_rtu(
        [
            channel(1, "rs485-th", "compressor-failure"),
            channel(2, "pt100", kind=CompartmentKind.FROZEN),
            channel(3, "logger-8ch", index=0),
            channel(3, "logger-8ch", index=1, kind=CompartmentKind.FROZEN),
        ]
    )
    await clock.advance(3600)
    for device_id, index in [(1, 0), (2, 0), (3, 0), (3, 1)]:
        profile = simulator.devices[device_id].profile
        start, count = profile.span({index})
        read = (
            client.read_holding_registers
            if profile.register_type == "holding"
            else client.read_input_registers
        )
        response = await read(start, count=count, device_id=device_id)
        value = decode_channel(profile, index, start, response.registers)
        expected = simulator.sample(device_id, index).temperature
        assert value.status is ProbeStatus.OK
        assert value.temperature == pytest.approx(expected, abs=0.05 + 1e-9)
    assert simulator.sample(1, 0).temperature is not None
    assert simulator.sample(1, 0).temperature > 8.0


@pytest.mark.asyncio
async def test_a_dropped_reply_is_a_client_timeout(start_rtu, channel) -> None:
    simulator, client = await start_rtu([channel(2, "pt100")])
    simulator.faults(2).drop_probability = 1.0
    with pytest.raises(ModbusIOException, match="No response"):
        await client.read_holding_registers(0, count=1, device_id=2)
    simulator.faults(2).drop_probability = 0.0
    assert not (await client.read_holding_registers(0, count=1, device_id=2)).isError()


@pytest.mark.asyncio
async def test_a_reply_with_a_bad_crc_reaches_the_client_and_is_rejected(
    start_rtu, channel
) -> None:
    received: list[bytes] = []

    def record(sending: bool, data: bytes) -> bytes:
        if not sending:
            received.append(data)
        return data

    simulator, client = await start_rtu([channel(2, "pt100")], trace_packet=record)
    simulator.faults(2).bad_crc = True
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=1, device_id=2)
    frame = received[-1]  # the client passes its whole receive buffer, partial frames included
    assert frame[:3] == bytes([2, 3, 2]), "device 2, function 3, two bytes of data"
    assert len(frame) == 7
    assert not crc_ok(frame)
    simulator.faults(2).bad_crc = False
    received.clear()
    assert not (await client.read_holding_registers(0, count=1, device_id=2)).isError()
    assert crc_ok(received[-1])


@pytest.mark.asyncio
async def test_a_flaky_bus_garbles_replies_on_rtu(start_rtu, channel) -> None:
    _, client = await start_rtu(
        [channel(2, "pt100", "flaky-bus", drop_probability=0, corrupt_probability=1)]
    )
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=1, device_id=2)


@pytest.mark.asyncio
async def test_an_absent_slave_is_silent_and_the_bus_goes_on(start_rtu, channel) -> None:
    _, client = await start_rtu([channel(2, "pt100")])
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=1, device_id=9)
    response = await client.read_holding_registers(0, count=1, device_id=2)
    assert not response.isError()


@pytest.mark.asyncio
async def test_exceptions_travel_over_rtu_too(start_rtu, channel) -> None:
    _, client = await start_rtu([channel(1, "rs485-th")])
    response = await client.read_input_registers(0, count=1, device_id=1)
    assert isinstance(response, ExceptionResponse)
    assert response.exception_code == 2


@pytest.mark.asyncio
async def test_a_missing_serial_device_is_a_clear_error(
    channel, clock: FakeClock, tmp_path: Path
) -> None:
    simulator = ModbusSimulator([channel(1, "pt100")], clock)
    with pytest.raises(SimulatorError, match=f"cannot serve Modbus on {tmp_path}/ttyX"):
        async with RtuSimServer(simulator, str(tmp_path / "ttyX")):
            pass


@pytest.mark.asyncio
async def test_the_rtu_server_releases_the_port(channel, clock: FakeClock, tmp_path: Path) -> None:
    simulator = ModbusSimulator([channel(2, "pt100")], clock)
    async with pty_pair(tmp_path) as pair:
        for _ in range(2):  # the port is exclusive: a second start works only after a clean stop
            async with RtuSimServer(simulator, str(pair.a)):
                client = AsyncModbusSerialClient(
                    str(pair.b), framer=FramerType.RTU, timeout=0.3, retries=0
                )
                assert await client.connect()
                try:
                    assert not (await client.read_holding_registers(0, device_id=2)).isError()
                finally:
                    client.close()
