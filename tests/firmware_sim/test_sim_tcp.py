"""The simulated devices over real Modbus TCP, read with pymodbus's own client."""

from __future__ import annotations

import asyncio

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.pdu import ExceptionResponse

from firmware_sim import SimulatorError
from firmware_sim.modbus_devices import ModbusSimulator
from firmware_sim.modbus_server import TcpSimServer
from gateway.core.clock import FakeClock
from gateway.core.compartments import CompartmentKind
from probes.modbus_decode import ChannelValue, decode_channel
from probes.profiles import RegisterProfile
from probes.reading import ProbeStatus

ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2


async def read_channel(
    client: AsyncModbusTcpClient, simulator: ModbusSimulator, device_id: int, channel: int
) -> ChannelValue:
    profile = simulator.devices[device_id].profile
    start, count = profile.span({channel})
    read = (
        client.read_holding_registers
        if profile.register_type == "holding"
        else client.read_input_registers
    )
    response = await read(start, count=count, device_id=device_id)
    assert not response.isError(), response
    return decode_channel(profile, channel, start, response.registers)


def assert_shows(
    value: ChannelValue, simulator: ModbusSimulator, device: int, channel: int
) -> None:
    expected = simulator.sample(device, channel).temperature
    assert value.status is ProbeStatus.OK
    assert value.temperature is not None
    assert expected is not None
    assert value.temperature == pytest.approx(expected, abs=0.05 + 1e-9)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("profile", "kind"),
    [
        ("rs485-th", CompartmentKind.REFRIGERATED),
        ("pt100", CompartmentKind.FROZEN),
        ("logger-8ch", CompartmentKind.REFRIGERATED),
    ],
)
async def test_each_profile_reads_back_as_the_scenario_value(
    start_tcp, channel, profiles: dict[str, RegisterProfile], profile: str, kind: CompartmentKind
) -> None:
    simulator, client = await start_tcp([channel(4, profile, kind=kind)])
    value = await read_channel(client, simulator, 4, 0)
    assert_shows(value, simulator, 4, 0)
    if profiles[profile].humidity is not None:
        assert value.humidity is not None
        assert 40.0 <= value.humidity <= 70.0


@pytest.mark.asyncio
async def test_values_are_live_and_follow_the_clock(start_tcp, channel, clock: FakeClock) -> None:
    simulator, client = await start_tcp(
        [channel(3, "logger-8ch", "compressor-failure"), channel(3, "logger-8ch", index=1)]
    )
    seen = []
    for _ in range(4):
        value = await read_channel(client, simulator, 3, 0)
        assert_shows(value, simulator, 3, 0)
        assert_shows(await read_channel(client, simulator, 3, 1), simulator, 3, 1)
        seen.append(value.temperature)
        await clock.advance(20 * 60)
    assert seen[-1] is not None
    assert seen[-1] > 8.0
    assert seen[1:] == sorted(seen[1:]), "warms steadily after the onset"


@pytest.mark.asyncio
async def test_a_whole_logger_block_reads_in_one_request(start_tcp, channel) -> None:
    simulator, client = await start_tcp([channel(3, "logger-8ch", index=2)])
    response = await client.read_holding_registers(0, count=8, device_id=3)
    assert response.registers[2] == simulator.registers(3)[2]
    assert response.registers[:2] == [0x8000, 0x8000]


@pytest.mark.asyncio
async def test_the_other_register_type_is_an_illegal_function(start_tcp, channel) -> None:
    _, client = await start_tcp([channel(1, "rs485-th"), channel(2, "pt100")])
    wrong_for_th = await client.read_holding_registers(1, count=2, device_id=1)
    wrong_for_pt = await client.read_input_registers(0, count=1, device_id=2)
    for response in (wrong_for_th, wrong_for_pt):
        assert isinstance(response, ExceptionResponse)
        assert response.exception_code == ILLEGAL_FUNCTION


@pytest.mark.asyncio
async def test_probes_are_read_only(start_tcp, channel) -> None:
    _, client = await start_tcp([channel(2, "pt100")])
    response = await client.write_register(0, 42, device_id=2)
    assert isinstance(response, ExceptionResponse)
    assert response.exception_code == ILLEGAL_FUNCTION


@pytest.mark.asyncio
@pytest.mark.parametrize(("address", "count"), [(0, 2), (3, 1), (1, 3), (100, 1)])
async def test_reads_outside_the_map_are_illegal_addresses(
    start_tcp, channel, address: int, count: int
) -> None:
    _, client = await start_tcp([channel(1, "rs485-th")])
    response = await client.read_input_registers(address, count=count, device_id=1)
    assert isinstance(response, ExceptionResponse)
    assert response.exception_code == ILLEGAL_ADDRESS


@pytest.mark.asyncio
async def test_an_absent_device_is_silent(start_tcp, channel) -> None:
    _, client = await start_tcp([channel(1, "pt100")])
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=1, device_id=2)
    assert not (await client.read_holding_registers(0, count=1, device_id=1)).isError()


@pytest.mark.asyncio
async def test_a_silenced_device_times_out_and_comes_back(start_tcp, channel) -> None:
    simulator, client = await start_tcp([channel(1, "pt100"), channel(2, "pt100")])
    simulator.faults(2).silent = True
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=1, device_id=2)
    assert not (await client.read_holding_registers(0, count=1, device_id=1)).isError()
    simulator.faults(2).silent = False
    assert not (await client.read_holding_registers(0, count=1, device_id=2)).isError()


@pytest.mark.asyncio
async def test_a_power_cut_silences_the_device_until_power_returns(
    start_tcp, channel, clock: FakeClock
) -> None:
    simulator, client = await start_tcp(
        [channel(1, "pt100", "power-cut", onset_s=600, duration_s=3600)]
    )
    assert_shows(await read_channel(client, simulator, 1, 0), simulator, 1, 0)
    await clock.advance(700)
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=1, device_id=1)
    await clock.advance(3600)
    value = await read_channel(client, simulator, 1, 0)
    assert_shows(value, simulator, 1, 0)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("profile", "status"),
    [("pt100", ProbeStatus.DISCONNECTED), ("rs485-th", ProbeStatus.OUT_OF_RANGE)],
)
async def test_a_disconnected_probe_answers_with_a_non_temperature(
    start_tcp, channel, clock: FakeClock, profile: str, status: ProbeStatus
) -> None:
    simulator, client = await start_tcp([channel(1, profile, "probe-disconnected")])
    await clock.advance(15 * 60)
    value = await read_channel(client, simulator, 1, 0)
    assert (value.status, value.temperature) == (status, None)


@pytest.mark.asyncio
async def test_port_zero_binds_a_free_port_and_reports_it(channel, clock: FakeClock) -> None:
    simulator = ModbusSimulator([channel(1, "pt100")], clock)
    async with TcpSimServer(simulator, port=0) as server:
        assert server.port > 0
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.close()
        await writer.wait_closed()


@pytest.mark.asyncio
async def test_a_taken_port_is_a_clear_error(channel, clock: FakeClock) -> None:
    simulator = ModbusSimulator([channel(1, "pt100")], clock)
    async with TcpSimServer(simulator) as first:
        with pytest.raises(SimulatorError, match=f"cannot serve Modbus on 127.0.0.1:{first.port}"):
            async with TcpSimServer(simulator, port=first.port):
                pass


@pytest.mark.asyncio
async def test_the_server_stops_and_frees_its_port(channel, clock: FakeClock) -> None:
    simulator = ModbusSimulator([channel(1, "pt100")], clock)
    server = TcpSimServer(simulator)
    async with server:
        port = server.port
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    async with TcpSimServer(simulator, port=port) as again:
        assert again.port == port
