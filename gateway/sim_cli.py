"""`coldchain sim modbus`: serve simulated fridge probes until SIGINT or SIGTERM.

It lives on the gateway side because it reads a gateway configuration (`--config`); the
simulators themselves (`firmware_sim`) know nothing of the gateway's wiring.

Wiring into a main parser is one line, `add_sim_parser(subparsers)`; the parsed arguments then
carry `handler`, an async function of the arguments returning the exit status:
`return asyncio.run(args.handler(args))`. `python -m gateway.sim_cli sim modbus ...` works
on its own too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from firmware_sim import SimulatorError
from firmware_sim.modbus_devices import (
    ModbusSimulator,
    ProbeSpec,
    build_channels,
    first_refrigerated,
    probe_specs,
)
from firmware_sim.scenarios import SCENARIOS
from gateway.core.clock import ScaledClock
from gateway.core.compartments import CompartmentKind
from gateway.core.errors import ConfigError
from gateway.settings import load_settings
from probes.profiles import RegisterProfile, builtin_profiles

# The probes of config/demo.toml (a test keeps the two identical), served on its bus port.
DEMO_PROBES: tuple[ProbeSpec, ...] = (
    ProbeSpec("208601", 1, 0, "rs485-th", "F1/冷藏", CompartmentKind.REFRIGERATED),
    ProbeSpec("208602", 2, 0, "pt100", "F1/冷冻", CompartmentKind.FROZEN),
    ProbeSpec("208603", 3, 0, "logger-8ch", "F2/冷藏", CompartmentKind.REFRIGERATED),
    ProbeSpec("208604", 3, 1, "logger-8ch", "Z1/冷冻", CompartmentKind.FROZEN),
)
DEMO_PORT = 5020
_BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)


def _assignment(text: str) -> tuple[str, str]:
    target, _, name = text.partition("=")
    if not target or name not in SCENARIOS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: write PROBE_CODE=SCENARIO or FRIDGE/COMPARTMENT=SCENARIO with a "
            f"scenario among {', '.join(SCENARIOS)}"
        )
    return target, name


def _speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        speed = 0.0
    if not speed > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the speed is a positive number, e.g. 60")
    return speed


def add_sim_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add `sim modbus ...` to a command line; returns the `sim` parser."""
    sim = subparsers.add_parser("sim", help="serve simulated devices over real transports")
    kinds = sim.add_subparsers(dest="sim_kind", required=True, metavar="KIND")
    modbus = kinds.add_parser(
        "modbus",
        help="simulated Modbus fridge probes over TCP or RTU",
        description="Serve simulated Modbus fridge probes until SIGINT or SIGTERM.",
    )
    modbus.add_argument(
        "--scenario",
        choices=list(SCENARIOS),
        default="steady",
        help="scenario for the first refrigerated compartment; the others stay steady",
    )
    modbus.add_argument(
        "--assign",
        type=_assignment,
        action="append",
        default=[],
        metavar="TARGET=SCENARIO",
        help="scenario for a probe code or FRIDGE/COMPARTMENT ref (repeatable)",
    )
    modbus.add_argument("--transport", choices=("tcp", "rtu"), default="tcp")
    modbus.add_argument("--host", default="127.0.0.1", help="TCP address to listen on")
    modbus.add_argument("--port", type=int, default=DEMO_PORT, help="TCP port; 0 picks a free one")
    modbus.add_argument(
        "--device",
        help="RTU: serial device or pty to serve on; default: a new socat pty pair",
    )
    modbus.add_argument("--baudrate", type=int, choices=_BAUDRATES, default=9600)
    modbus.add_argument(
        "--config",
        type=Path,
        help="gateway TOML to take the probes from; default: the demo clinic's probes",
    )
    modbus.add_argument("--bus", help="with --config: serve only the probes of this bus")
    modbus.add_argument(
        "--speed", type=_speed, default=1.0, help="simulated seconds per real second"
    )
    modbus.add_argument("--seed", type=int, default=0, help="seed for reproducible runs")
    modbus.set_defaults(handler=run_sim)
    return sim


def _probes(args: argparse.Namespace) -> tuple[list[ProbeSpec], Mapping[str, RegisterProfile]]:
    if args.config is None:
        if args.bus is not None:
            raise ValueError("--bus needs --config: the demo probes sit on one bus")
        return list(DEMO_PROBES), builtin_profiles()
    settings = load_settings(args.config)
    return probe_specs(settings, bus=args.bus), settings.all_profiles()


def _simulator(args: argparse.Namespace) -> ModbusSimulator:
    specs, profiles = _probes(args)
    if not specs:
        raise ValueError("no Modbus probes to simulate: add [[probes]] or choose another --bus")
    assignments = dict(args.assign)
    if args.scenario != "steady":
        assignments.setdefault(first_refrigerated(specs), args.scenario)
    channels = build_channels(specs, profiles, assignments, seed=args.seed)
    return ModbusSimulator(channels, ScaledClock(args.speed), seed=args.seed)


async def _serve(args: argparse.Namespace, simulator: ModbusSimulator, stop: asyncio.Event) -> None:
    # pymodbus's servers (1.5 MB resident) only when serving: every `coldchain` command builds
    # this parser, the running gateway included.
    from firmware_sim.modbus_server import RtuSimServer, TcpSimServer
    from firmware_sim.pty_pair import pty_pair

    async with contextlib.AsyncExitStack() as stack:
        if args.transport == "tcp":
            tcp = await stack.enter_async_context(TcpSimServer(simulator, args.host, args.port))
            where = f"Modbus TCP on {tcp.host}:{tcp.port}"
        else:
            device, peer = args.device, None
            if device is None:
                directory = stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="coldchain-sim-")
                )
                pair = await stack.enter_async_context(pty_pair(Path(directory)))
                device, peer = str(pair.a), str(pair.b)
            await stack.enter_async_context(RtuSimServer(simulator, device, baudrate=args.baudrate))
            where = f"Modbus RTU on {device} at {args.baudrate} baud"
            if peer is not None:
                where += f" (connect the gateway to {peer})"
        print(
            f"coldchain sim: {where}, speed x{args.speed:g}, seed {args.seed}: "
            f"{simulator.describe()}",
            flush=True,
        )
        await stop.wait()


async def run_sim(args: argparse.Namespace) -> int:
    """Serve the simulated devices until SIGINT or SIGTERM; 0 on a clean stop."""
    try:
        simulator = _simulator(args)
    except (ConfigError, ValueError) as error:
        print(f"coldchain sim modbus: {error}", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await _serve(args, simulator, stop)
    except SimulatorError as error:
        print(f"coldchain sim modbus: {error}", file=sys.stderr)
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.sim_cli")
    add_sim_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status: int = asyncio.run(args.handler(args))
    return status


if __name__ == "__main__":
    sys.exit(main())
