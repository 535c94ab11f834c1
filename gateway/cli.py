"""`coldchain` command line: run, demo, config check, sim, report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from alerts.settings import AckLinkSettings, AlertSettings, weak_secret
from gateway.core import validation
from gateway.core.clock import Clock, ScaledClock, SystemClock
from gateway.core.errors import ColdchainError, ConfigError, GatewayError
from gateway.entry import note_stop_while_starting, stop_asked
from gateway.forward.settings import InfluxSettings, MqttSettings
from gateway.ops.cli import OPS_COMMANDS, add_ops_parsers
from gateway.settings import Settings, load_settings
from ledger.masking import PersonalDataFormatter
from ledger.settings import LedgerSettings
from probes.settings import TcpBus

log = logging.getLogger("coldchain")

_M = TypeVar("_M", bound=BaseModel)

# What the running gateway creates (reports, backups, forms, stores) is not for other local
# users whatever the umask it was started with: folders 0750, files 0640.
PRIVATE_UMASK = 0o027
DEMO_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo.toml"


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PersonalDataFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    # pymodbus logs every timeout itself; the driver reports faults once, by probe and device.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


def build_parser() -> argparse.ArgumentParser:
    from firmware_sim.scenarios import SCENARIOS
    from gateway.auth.cli import add_accounts_parser
    from gateway.commissioning.cli import add_discover_parser
    from gateway.reports.cli import add_report_parser
    from gateway.sim_cli import add_sim_parser

    parser = argparse.ArgumentParser(prog="coldchain", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the gateway with a configuration file")
    run.add_argument("--config", type=Path, required=True, help="gateway TOML file")

    demo = commands.add_parser("demo", help="run the gateway against simulated fridges")
    demo.add_argument("--config", type=Path, default=DEMO_CONFIG, help="demo TOML file")
    demo.add_argument("--http-port", type=int, default=8080, help="0 picks a free port")
    demo.add_argument("--data-dir", type=Path, default=Path("data"), help="where the store lives")
    demo.add_argument(
        "--scenario",
        default="steady",
        choices=sorted(SCENARIOS),
        help="what happens to the first refrigerated compartment",
    )
    demo.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="run simulated time and the gateway N× faster (readings are stamped in simulated"
        " time, so with your own servers it needs --allow-future-points)",
    )
    servers = demo.add_argument_group("forward the demo's readings to your own servers")
    servers.add_argument("--influx-url", help="InfluxDB (or VictoriaMetrics) base URL")
    servers.add_argument("--influx-token", help="InfluxDB 2.x/3.x API token")
    servers.add_argument("--influx-org", help="InfluxDB 2.x organisation")
    servers.add_argument("--influx-bucket", help="InfluxDB 2.x/3.x bucket (the v2 write API)")
    servers.add_argument("--influx-v1-db", help="InfluxDB 1.x database (the v1 /write endpoint)")
    servers.add_argument("--influx-v1-rp", help="InfluxDB 1.x retention policy")
    servers.add_argument("--influx-user", help="InfluxDB 1.x user")
    servers.add_argument("--influx-password", help="InfluxDB 1.x password")
    servers.add_argument("--mqtt-url", help="broker, mqtt://host:1883 or mqtts://host:8883")
    servers.add_argument("--mqtt-username", help="broker user")
    servers.add_argument("--mqtt-password", help="broker password")
    servers.add_argument(
        "--allow-future-points",
        action="store_true",
        help="forward even when --speed stamps readings ahead of the real time (test servers"
        " only: the points stay in the future)",
    )

    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate a configuration file")
    check.add_argument("file", type=Path)

    add_sim_parser(commands)
    add_report_parser(commands)
    add_ops_parsers(commands)
    add_discover_parser(commands)
    add_accounts_parser(commands)
    return parser


#: The commands that run a gateway: a SIGTERM while they start exits 0 (`stop_while_starting`).
GATEWAY_COMMANDS = frozenset({"run", "demo"})


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    if args.command in GATEWAY_COMMANDS:
        with stop_while_starting():
            return _command(args)
    if signal.getsignal(signal.SIGTERM) is note_stop_while_starting:
        # The entry point's was for the imports: another command stopped says so (143).
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if stop_asked():
            signal.raise_signal(signal.SIGTERM)
    return _command(args)


def _command(args: argparse.Namespace) -> int:
    try:
        return COMMANDS[args.command](args)
    except ColdchainError as error:
        print(f"coldchain: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


@contextlib.contextmanager
def stop_while_starting() -> Iterator[None]:
    """A SIGTERM in the block, before the gateway handles it in its event loop, is noted
    (`gateway.entry.note_stop_while_starting`) and `run_gateway` stops at once (exit 0) when it
    starts to listen. The handler found is put back after, so that a caller of `main` (a test)
    keeps its own; the entry point's, which was for the imports only, gives way to the
    default."""
    previous = signal.signal(signal.SIGTERM, note_stop_while_starting)
    if previous is None or previous is note_stop_while_starting:
        previous = signal.SIG_DFL
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    refuse_public_secrets(settings, args.config)
    os.umask(PRIVATE_UMASK)
    return asyncio.run(run_gateway(settings, SystemClock(), config_path=args.config))


def refuse_public_secrets(settings: Settings, path: Path) -> None:
    """Outside the demo, a secret anyone can read (published, or guessable) is refused."""
    if settings.alerts is not None:
        problem = weak_secret(settings.alerts.ack.secret.get_secret_value())
        if problem is not None:
            raise ConfigError(f"{path}: {problem}")


def _demo(args: argparse.Namespace) -> int:
    os.umask(PRIVATE_UMASK)
    return asyncio.run(run_demo(args))


def _sim(args: argparse.Namespace) -> int:
    from gateway.sim_cli import run_sim

    return asyncio.run(run_sim(args))


def _report(args: argparse.Namespace) -> int:
    from gateway.reports.cli import run_report

    return asyncio.run(run_report(args))


def _discover(args: argparse.Namespace) -> int:
    from gateway.commissioning.cli import run_discover

    return run_discover(args)


def _accounts(args: argparse.Namespace) -> int:
    from gateway.auth.cli import run_accounts

    return run_accounts(args)


def check_config(path: Path) -> int:
    try:
        settings = load_settings(path)
        refuse_public_secrets(settings, path)
    except GatewayError as error:
        print(error, file=sys.stderr)
        return 1
    fridges = len(settings.fridges)
    compartments = sum(len(fridge.compartments) for fridge in settings.fridges)
    print(
        f"{path}: ok: unit {settings.unit.code}, gateway {settings.gateway.number}, "
        f"{fridges} fridge(s), {compartments} compartment(s), {len(settings.probes)} probe(s) "
        f"on {len(settings.buses)} bus(es)"
    )
    return 0


async def run_gateway(
    settings: Settings, clock: Clock, banner: str = "", config_path: Path | None = None
) -> int:
    """Run until SIGTERM/SIGINT; a reload (MQTT `cmd/reload`) starts again with new settings."""
    from gateway.runtime import Gateway, install_stop_signals

    stop = asyncio.Event()
    install_stop_signals(stop)
    if stop_asked():
        return 0
    announced = False
    while True:
        gateway = Gateway(settings, clock, config_path)
        running = asyncio.create_task(gateway.run(stop), name="gateway")
        started: list[asyncio.Future[Any]] = [running, gateway.listening]
        await asyncio.wait(started, return_when=asyncio.FIRST_COMPLETED)
        if gateway.listening.done() and not announced:
            url = gateway.listening.result().url
            print(
                f"coldchain: gateway listening on {url} (API: {url}api/fridges){banner}", flush=True
            )
            announced = True
        await running
        if stop.is_set() or gateway.reloaded is None:
            return 0
        log.info("configuration reloaded from %s; starting again", config_path)
        settings = gateway.reloaded
        if settings.http.port == 0:  # keep the address clients already use
            bound = gateway.listening.result().port
            settings = settings.model_copy(
                update={"http": settings.http.model_copy(update={"port": bound})}
            )


async def run_demo(args: argparse.Namespace) -> int:
    from firmware_sim.modbus_devices import (
        ModbusSimulator,
        channels_for_settings,
        first_refrigerated,
        probe_specs,
    )
    from firmware_sim.modbus_server import TcpSimServer
    from gateway import demo_world

    settings = load_settings(args.config)
    if any(not isinstance(bus, TcpBus) for bus in settings.buses):
        raise GatewayError(
            f"{args.config}: the demo serves simulated devices over Modbus TCP only; "
            'declare its buses with transport = "tcp"'
        )
    if args.speed <= 0:
        raise GatewayError(f"--speed {args.speed:g}: give a positive factor, e.g. 60")
    influx, mqtt = _demo_influx(args), _demo_mqtt(args)
    real_now = datetime.now(UTC)
    world = demo_world.resume(args.data_dir, args.scenario, real_now)
    servers = [
        flag
        for flag, url in (("--influx-url", args.influx_url), ("--mqtt-url", args.mqtt_url))
        if url
    ]
    demo_world.check_external_servers(
        world, real_now, args.speed, servers=servers, allowed=args.allow_future_points
    )
    world.save(args.data_dir)
    clock = ScaledClock(args.speed, start=world.now)
    target = first_refrigerated(probe_specs(settings))
    simulator = ModbusSimulator(
        channels_for_settings(settings, {target: args.scenario}), clock, elapsed_s=world.elapsed_s
    )
    port = args.http_port or _free_port(settings.http.host)
    async with (
        TcpSimServer(simulator, "127.0.0.1", 0) as sim,
        _demo_platform(settings, args.config.parent) as ledger,
    ):
        settings = settings.model_copy(
            update={
                "alerts": _demo_alerts(settings, port),
                "ledger": ledger,
                "buses": [
                    bus.model_copy(update={"host": "127.0.0.1", "port": sim.port})
                    for bus in settings.buses
                ],
                "gateway": settings.gateway.model_copy(update={"data_dir": args.data_dir}),
                "http": settings.http.model_copy(update={"port": port}),
                "influx": influx,
                "mqtt": mqtt,
            }
        )
        banner = (
            f"\ncoldchain: simulated fridges on modbus tcp 127.0.0.1:{sim.port}, "
            f"scenario {args.scenario} on {target}, speed {args.speed:g}x; Ctrl-C stops"
            f"\ncoldchain: {world.note}"
        )
        if ledger is not None:
            banner += (
                f"\ncoldchain: simulated provincial platform at {ledger.platform_url}; sample "
                "packages to scan: 81900670000000000001..40, 81900780000000000001..20"
            )
        from gateway.auth.cli import ensure_demo_accounts

        ensure_demo_accounts(args.data_dir)
        banner += (
            "\ncoldchain: demo accounts admin, technician, manager, head, unit-head, "
            "vaccinator, county; password demo-<name> (README: Accounts and roles)"
        )
        return await run_gateway(settings, clock, banner)


def _free_port(host: str) -> int:
    """A port free now on `host`, for the demo to listen on and to put in its links."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def _demo_alerts(settings: Settings, port: int) -> AlertSettings | None:
    """The demo's acknowledgement links: a secret of its own at each start (the one in the demo
    file is published) and the address the demo really listens on."""
    if settings.alerts is None:
        return None
    host = settings.http.host
    shown = f"[{host}]" if ":" in host else host
    ack = AckLinkSettings(
        secret=SecretStr(secrets.token_urlsafe(32)),
        base_url=f"http://{shown}:{port}",
        lifetime_s=settings.alerts.ack.lifetime_s,
    )
    return settings.alerts.model_copy(update={"ack": ack})


@contextlib.asynccontextmanager
async def _demo_platform(settings: Settings, folder: Path) -> AsyncIterator[LedgerSettings | None]:
    """With a `[ledger]` in the demo file: a simulated provincial platform on a free local port
    to upload to, and the shipment files read from beside the demo file."""
    if settings.ledger is None:
        yield None
        return
    from firmware_sim.provincial_platform import ProvincialPlatform, serve

    runner, port = await serve(ProvincialPlatform())
    try:
        files = [(folder / name).resolve() for name in settings.ledger.catalogue_files]
        units = [(folder / name).resolve() for name in settings.ledger.units_files]
        yield settings.ledger.model_copy(
            update={
                "platform_url": f"http://127.0.0.1:{port}/upload",
                "catalogue_files": files,
                "units_files": units,
            }
        )
    finally:
        await runner.cleanup()


def _demo_influx(args: argparse.Namespace) -> InfluxSettings | None:
    if args.influx_url is None:
        return None
    fields = {
        "url": args.influx_url,
        "token": args.influx_token,
        "org": args.influx_org,
        "bucket": args.influx_bucket,
        "v1_db": args.influx_v1_db,
        "v1_rp": args.influx_v1_rp,
        "username": args.influx_user,
        "password": args.influx_password,
    }
    return _validated(InfluxSettings, fields, "--influx-*")


def _demo_mqtt(args: argparse.Namespace) -> MqttSettings | None:
    if args.mqtt_url is None:
        return None
    fields = {"url": args.mqtt_url, "username": args.mqtt_username, "password": args.mqtt_password}
    return _validated(MqttSettings, fields, "--mqtt-*")


def _validated(model: type[_M], fields: dict[str, Any], flags: str) -> _M:
    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as error:
        problems = "; ".join(
            f"{validation.readable_key(item['loc'], fields)}: {validation.reason(item)}"
            for item in error.errors()
        )
        raise ConfigError(f"demo {flags} options: {problems}") from None


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "config": lambda args: check_config(args.file),
    "run": _run,
    "demo": _demo,
    "sim": _sim,
    "report": _report,
    "discover": _discover,
    "accounts": _accounts,
    **OPS_COMMANDS,
}
