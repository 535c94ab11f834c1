"""Serve a `ModbusSimulator` with pymodbus 3.16 over Modbus TCP or RTU.

How the simulation reaches the wire, with pymodbus's supported hooks only:
- Live values: each device is a `SimDevice` whose one `SimData` block covers the profile's
  register map; its `action` hook runs on every request, after pymodbus checked the address
  range (outside the map: exception 2, illegal address), and writes the registers computed at
  that instant into the block pymodbus then answers from. The hook also answers exception 1
  (illegal function) for the other register type and for writes: a probe is read-only.
- Lost and garbled replies: the server's `trace_packet` hook sees every outgoing frame; it
  reads the device id from the frame header (RTU: first byte; TCP: MBAP unit id) and asks the
  simulator for the reply's fate: returned as is, replaced by no bytes (dropped), or, on RTU,
  with its CRC corrupted.
- Absent devices: a real RS-485 line is silent for an address nobody has. pymodbus's
  `ignore_missing_devices` only applies to its legacy datastore, and its `SimDevice` core
  answers an unknown id with exception 4 after logging a traceback. So a catch-all `SimDevice`
  (id 0, every address invalid) answers unknown ids quietly, and `trace_packet` drops those
  replies, on TCP as on RTU: the client times out, as behind an RS-485-to-Ethernet converter.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusBaseServer, ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimAction, SimData, SimDevice

from firmware_sim import SimulatorError
from firmware_sim.modbus_devices import ModbusSimulator, SimulatedDevice

_READ_FUNCTION = {"holding": 3, "input": 4}


def _live_registers(simulator: ModbusSimulator, device: SimulatedDevice) -> SimAction:
    read_function = _READ_FUNCTION[device.profile.register_type]

    async def action(  # noqa: PLR0917 - the signature of pymodbus's SimAction
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if function_code != read_function or set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION
        values = simulator.registers(device.device_id)
        registers[: len(values)] = values
        return None

    return action


def sim_devices(simulator: ModbusSimulator) -> list[SimDevice]:
    """pymodbus devices serving the simulator's registers live, plus the quiet catch-all."""
    devices = [SimDevice(id=0, simdata=SimData(address=0, datatype=DataType.INVALID))]
    for device in simulator.devices.values():
        profile = device.profile
        block = SimData(
            address=profile.first_address,
            count=profile.register_count,
            datatype=DataType.REGISTERS,
        )
        devices.append(
            SimDevice(
                id=device.device_id, simdata=[block], action=_live_registers(simulator, device)
            )
        )
    return devices


class _SimServer(ABC):
    """Start on `async with`, stop on exit; subclasses make the pymodbus server."""

    _crc: bool
    _id_offset: int

    def __init__(self, simulator: ModbusSimulator) -> None:
        self.simulator = simulator
        self._server: ModbusBaseServer | None = None

    def _trace_packet(self, sending: bool, packet: bytes) -> bytes:
        if not sending or len(packet) <= self._id_offset:
            return packet
        device_id = packet[self._id_offset]
        if device_id not in self.simulator.devices:
            return b""
        fate = self.simulator.fate(device_id, crc=self._crc)
        if fate == "drop":
            return b""
        if fate == "corrupt":
            return packet[:-1] + bytes([packet[-1] ^ 0xFF])
        return packet

    @abstractmethod
    def _make(self) -> ModbusBaseServer:
        """A new, not yet listening, pymodbus server."""

    @abstractmethod
    def _where(self) -> str:
        """Where the server listens, for messages."""

    @abstractmethod
    def _fix(self) -> str:
        """What to do when the server cannot listen."""

    async def __aenter__(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f"{self._where()}: this server is already running")
        server = self._make()
        try:
            await server.serve_forever(background=True)
        except RuntimeError:
            server.close()
            raise SimulatorError(f"cannot serve Modbus on {self._where()}: {self._fix()}") from None
        self._server = server
        await asyncio.sleep(0)  # let the transport finish its set-up callbacks
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        await server.shutdown()  # type: ignore[no-untyped-call]
        await asyncio.sleep(0)  # let the closed transports run their connection_lost callbacks


class TcpSimServer(_SimServer):
    """Modbus TCP on `host:port`; port 0 picks a free port, readable as `.port` once started."""

    _crc = False
    _id_offset = 6  # MBAP header: transaction id, protocol id, length, unit id

    def __init__(self, simulator: ModbusSimulator, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(simulator)
        self.host = host
        self._port = port

    def _make(self) -> ModbusBaseServer:
        return ModbusTcpServer(
            sim_devices(self.simulator),
            framer=FramerType.SOCKET,
            address=(self.host, self._port),
            trace_packet=self._trace_packet,
        )

    def _where(self) -> str:
        return f"{self.host}:{self._port}"

    def _fix(self) -> str:
        return "the port may be taken or the address not local: choose another, or port 0"

    @property
    def port(self) -> int:
        """The bound port while running (the one port 0 picked), else the requested one."""
        listener = self._server.transport if self._server is not None else None
        if isinstance(listener, asyncio.Server) and listener.sockets:
            return int(listener.sockets[0].getsockname()[1])
        return self._port


class RtuSimServer(_SimServer):
    """Modbus RTU on a serial device: a real RS-485 adapter or one end of a pty pair."""

    _crc = True
    _id_offset = 0  # RTU frame: device id, function code, data, CRC

    def __init__(
        self,
        simulator: ModbusSimulator,
        device: str,
        *,
        baudrate: int = 9600,
        parity: str = "N",
        stopbits: int = 1,
    ) -> None:
        super().__init__(simulator)
        self.device = device
        self.baudrate = baudrate
        self.parity = parity
        self.stopbits = stopbits

    def _make(self) -> ModbusBaseServer:
        return ModbusSerialServer(
            sim_devices(self.simulator),
            framer=FramerType.RTU,
            port=self.device,
            baudrate=self.baudrate,
            parity=self.parity,
            stopbits=self.stopbits,
            trace_packet=self._trace_packet,
        )

    def _where(self) -> str:
        return self.device

    def _fix(self) -> str:
        return (
            "the serial device cannot be opened: check the path exists (for a pty pair, that "
            "socat is running) and that no other program holds it"
        )
