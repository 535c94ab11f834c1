"""`coldchain discover` as a technician runs it, against simulated devices on Modbus TCP."""

from __future__ import annotations

import asyncio
import sys

import pytest

from firmware_sim.modbus_server import TcpSimServer
from gateway.cli import build_parser
from tests.commissioning.support import simulator


async def coldchain(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


@pytest.mark.asyncio
async def test_discover_modbus_lists_each_device_with_its_profile() -> None:
    async with TcpSimServer(simulator(), "127.0.0.1", 0) as server:
        code, out, err = await coldchain(
            "discover", "modbus", "--host", "127.0.0.1", "--port", str(server.port), "--last", "6"
        )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "scanning 6 address(es), 0.2 s each when silent ..."
    assert lines[1].startswith("device   1: logger-8ch (also reads as pt100): ch0 ")
    assert lines[2].startswith("device   2: pt100: ch0 -")
    assert lines[3].startswith("device   5: rs485-th: ch0 ")
    assert lines[3].endswith(" %")
    assert lines[-1] == "3 device(s) answered"


@pytest.mark.asyncio
async def test_bad_ranges_and_unknown_buses_name_the_fix() -> None:
    code, _, err = await coldchain(
        "discover", "modbus", "--host", "127.0.0.1", "--first", "9", "--last", "3"
    )
    assert code == 2
    assert "give 1 <= --first <= --last <= 247" in err
    code, _, err = await coldchain("discover", "modbus", "--bus", "main")
    assert code == 2
    assert "--bus names a bus of a configuration: add --config FILE" in err


def test_the_discover_command_is_wired() -> None:
    args = build_parser().parse_args(["discover", "ble", "--seconds", "2"])
    assert (args.command, args.discover_kind, args.seconds, args.adapter) == (
        "discover",
        "ble",
        2.0,
        "hci0",
    )
