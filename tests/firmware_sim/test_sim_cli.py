"""`sim modbus` on the command line: parser wiring, errors, and the real process end to end."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient

from gateway.sim_cli import add_sim_parser, run_sim
from probes.modbus_decode import decode_channel
from probes.profiles import builtin_profiles
from probes.reading import ProbeStatus

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "demo.toml"


def exists(path: Path) -> bool:
    return path.exists()


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="coldchain")
    add_sim_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_one_call_wires_sim_modbus_into_a_command_line() -> None:
    args = parse("sim", "modbus", "--scenario", "power-cut", "--speed", "60", "--seed", "3")
    assert (args.command, args.sim_kind, args.scenario) == ("sim", "modbus", "power-cut")
    assert (args.transport, args.host, args.port, args.speed, args.seed) == (
        "tcp",
        "127.0.0.1",
        5020,
        60.0,
        3,
    )
    assert args.handler is run_sim


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scenario", "meltdown"], "invalid choice: 'meltdown'"),
        (["--speed", "0"], "the speed is a positive number"),
        (["--assign", "208601"], "write PROBE_CODE=SCENARIO"),
        (["--transport", "udp"], "invalid choice: 'udp'"),
    ],
)
def test_bad_options_are_refused_by_the_parser(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse("sim", "modbus", *argv)
    assert message in capsys.readouterr().err


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--assign", "999=steady"], "scenario assigned to 999, which is neither"),
        (["--bus", "sim"], "--bus needs --config"),
        (["--config", "/nonexistent.toml"], "/nonexistent.toml: cannot read the configuration"),
    ],
)
async def test_unusable_setups_exit_with_status_2_and_say_why(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_sim(parse("sim", "modbus", *argv)) == 2
    assert message in capsys.readouterr().err


@asynccontextmanager
async def simulator_process(*argv: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`python -m gateway.sim_cli sim modbus ARGV`, with the line it prints once serving."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        "-m",
        "gateway.sim_cli",
        "sim",
        "modbus",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        yield process, line
    finally:
        if process.returncode is None:
            process.kill()
        await process.communicate()


@pytest.mark.asyncio
async def test_the_process_serves_tcp_until_sigint(tmp_path: Path) -> None:
    argv = ["--config", str(DEMO_CONFIG), "--bus", "sim", "--port", "0"]
    argv += ["--scenario", "probe-disconnected", "--speed", "6000"]
    async with simulator_process(*argv) as (process, line):
        match = re.search(r"Modbus TCP on 127\.0\.0\.1:(\d+), speed x6000, seed 0: ", line)
        assert match, line
        assert "device 1 rs485-th [208601 F1/冷藏 probe-disconnected]" in line
        assert "device 3 logger-8ch [208603 F2/冷藏 steady, 208604 Z1/冷冻 steady]" in line
        client = AsyncModbusTcpClient("127.0.0.1", port=int(match[1]), timeout=0.5, retries=0)
        assert await client.connect()
        try:
            await asyncio.sleep(0.2)  # 20 simulated minutes: the probe is unplugged by now
            response = await client.read_input_registers(1, count=2, device_id=1)
            profile = builtin_profiles()["rs485-th"]
            assert decode_channel(profile, 0, 1, response.registers).status is (
                ProbeStatus.OUT_OF_RANGE
            )
            logger = await client.read_holding_registers(0, count=2, device_id=3)
            assert not logger.isError()
        finally:
            client.close()
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 10)
        assert process.returncode == 0, stderr.decode()
        assert stderr == b""


@pytest.mark.asyncio
async def test_the_process_makes_its_own_pty_pair_for_rtu_and_stops_on_sigterm() -> None:
    async with simulator_process("--transport", "rtu") as (process, line):
        match = re.search(
            r"Modbus RTU on (\S+)/ttyA at 9600 baud \(connect the gateway to (\S+)\)", line
        )
        assert match, line
        directory, peer = Path(match[1]), match[2]
        client = AsyncModbusSerialClient(peer, framer=FramerType.RTU, timeout=0.5, retries=0)
        assert await client.connect()
        try:
            response = await client.read_holding_registers(0, count=1, device_id=2)
            assert not response.isError()
        finally:
            client.close()
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 10)
        assert process.returncode == 0, stderr.decode()
    assert not exists(directory), "the pty pair's temporary directory is removed"


@pytest.mark.asyncio
async def test_a_port_in_use_exits_with_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        assert await run_sim(parse("sim", "modbus", "--port", str(port))) == 1
    finally:
        server.close()
        await server.wait_closed()
    assert f"cannot serve Modbus on 127.0.0.1:{port}" in capsys.readouterr().err
