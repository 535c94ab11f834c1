"""A clinic whose bus points at simulated loggers served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from firmware_sim.modbus_devices import ModbusSimulator, channels_for_settings
from firmware_sim.modbus_server import TcpSimServer
from gateway.core.clock import SystemClock
from gateway.settings import load_settings
from tests.e2e.support import Clinic, clinic_toml


@pytest_asyncio.fixture
async def clinic(tmp_path: Path) -> AsyncIterator[Clinic]:
    """A clinic configuration whose bus points at simulated loggers polled 5 times a second."""
    data_dir = tmp_path / "data"
    config = tmp_path / "clinic.toml"
    config.write_text(clinic_toml(data_dir, 1, 0.2), encoding="utf-8")
    simulator = ModbusSimulator(channels_for_settings(load_settings(config)), SystemClock())
    async with TcpSimServer(simulator, "127.0.0.1", 0) as server:
        config.write_text(clinic_toml(data_dir, server.port, 0.2), encoding="utf-8")
        yield Clinic(config, data_dir)
