"""Simulated devices that speak the real protocols over real transports.

`scenarios` says what a probe shows over time (pure); `modbus_devices` lays those values out in
each device's register map; `modbus_server` serves them with pymodbus over TCP or RTU;
`pty_pair` makes a socat pty pair for RTU. `coldchain sim modbus`, which reads a gateway
configuration, is the gateway's `gateway.sim_cli`.
"""

from typing import ClassVar

from gateway.core.errors import ColdchainError


class SimulatorError(ColdchainError):
    """A simulator cannot start or serve; the message names the thing and the fix."""

    code: ClassVar[str] = "simulator_failed"
