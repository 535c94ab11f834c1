"""Fixtures for the simulated Modbus devices: channels, fake time, servers with a client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import pytest
import pytest_asyncio
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient

from firmware_sim.modbus_devices import ModbusSimulator, SimulatedChannel
from firmware_sim.modbus_server import RtuSimServer, TcpSimServer
from firmware_sim.pty_pair import pty_pair
from firmware_sim.scenarios import build_scenario
from gateway.core.clock import FakeClock
from gateway.core.compartments import CompartmentKind
from probes.profiles import RegisterProfile, builtin_profiles

CLIENT_TIMEOUT_S = 0.3

MakeChannel = Callable[..., SimulatedChannel]
StartTcp = Callable[
    [Sequence[SimulatedChannel]], Awaitable[tuple[ModbusSimulator, AsyncModbusTcpClient]]
]
StartRtu = Callable[..., Awaitable[tuple[ModbusSimulator, AsyncModbusSerialClient]]]


@pytest.fixture
def profiles() -> dict[str, RegisterProfile]:
    return builtin_profiles()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def channel(profiles: dict[str, RegisterProfile]) -> MakeChannel:
    """Make a channel: channel(device_id, profile, scenario, index=, kind=, **params)."""

    def make(
        device_id: int,
        profile: str,
        scenario: str = "steady",
        *,
        index: int = 0,
        kind: CompartmentKind = CompartmentKind.REFRIGERATED,
        **params: float,
    ) -> SimulatedChannel:
        return SimulatedChannel(
            device_id,
            index,
            profiles[profile],
            kind,
            build_scenario(scenario, seed=device_id, **params),
            label=f"probe-{device_id}-{index}",
        )

    return make


@pytest_asyncio.fixture
async def start_tcp(clock: FakeClock) -> AsyncIterator[StartTcp]:
    """Serve channels over Modbus TCP on a free port and connect a client to them."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(
            channels: Sequence[SimulatedChannel],
        ) -> tuple[ModbusSimulator, AsyncModbusTcpClient]:
            simulator = ModbusSimulator(channels, clock, seed=7)
            server = await stack.enter_async_context(TcpSimServer(simulator))
            client = AsyncModbusTcpClient(
                "127.0.0.1", port=server.port, timeout=CLIENT_TIMEOUT_S, retries=0
            )
            assert await client.connect()
            stack.callback(client.close)
            return simulator, client

        yield start


@pytest_asyncio.fixture
async def start_rtu(clock: FakeClock, tmp_path: Path) -> AsyncIterator[StartRtu]:
    """Serve channels over Modbus RTU on one end of a socat pty pair, a client on the other.

    `trace_packet` goes to the client, to see the raw frames it receives.
    """
    async with contextlib.AsyncExitStack() as stack:

        async def start(
            channels: Sequence[SimulatedChannel],
            trace_packet: Callable[[bool, bytes], bytes] | None = None,
        ) -> tuple[ModbusSimulator, AsyncModbusSerialClient]:
            simulator = ModbusSimulator(channels, clock, seed=7)
            pair = await stack.enter_async_context(pty_pair(tmp_path))
            await stack.enter_async_context(RtuSimServer(simulator, str(pair.a)))
            client = AsyncModbusSerialClient(
                str(pair.b),
                framer=FramerType.RTU,
                baudrate=9600,
                timeout=CLIENT_TIMEOUT_S,
                retries=0,
                trace_packet=trace_packet,
            )
            assert await client.connect()
            stack.callback(client.close)
            return simulator, client

        yield start
