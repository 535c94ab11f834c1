"""The technician's commands on the Pi: install, status, backup, restore."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

INSTALLED_CONFIG = Path("/etc/coldchain/gateway.toml")


def add_ops_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add install, status, backup and restore to `coldchain`'s subcommands."""
    install = commands.add_parser("install", help="install as a systemd service (needs root)")
    install.add_argument("--config", type=Path, required=True, help="gateway TOML to install")
    install.add_argument("--executable", type=Path, help="coldchain program for ExecStart")
    install.add_argument("--root", type=Path, default=Path("/"), help="write below this folder")
    install.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    install.add_argument(
        "--tls-name",
        action="append",
        default=[],
        help="a name or address of the gateway on the clinic's network for its HTTPS "
        "certificate, e.g. 192.168.10.2 (repeatable; the ack links' host is added)",
    )

    status = commands.add_parser("status", help="what is connected, healthy and not")
    status.add_argument(
        "--config",
        type=Path,
        help=f"gateway TOML (default: {INSTALLED_CONFIG}, not read when --url is given)",
    )
    status.add_argument(
        "--url", help="the gateway's address, e.g. http://10.0.0.5:8080/ (default: from [http])"
    )

    backup = commands.add_parser("backup", help="archive the stores and the configuration")
    backup.add_argument("--config", type=Path, default=INSTALLED_CONFIG, help="gateway TOML")
    backup.add_argument("--data-dir", type=Path, help="default: [gateway] data_dir")
    backup.add_argument("--output", type=Path, help="archive to write (.tar.gz)")

    restore = commands.add_parser("restore", help="put a backup in place (gateway stopped)")
    restore.add_argument("archive", type=Path)
    restore.add_argument("--config", type=Path, default=INSTALLED_CONFIG, help="gateway TOML")
    restore.add_argument("--data-dir", type=Path, help="default: the backup's data_dir")
    restore.add_argument(
        "--force", action="store_true", help="accept a backup of another unit or gateway"
    )


def _install(args: argparse.Namespace) -> int:
    from gateway.ops.install import apply, default_executable, describe, layout_for, plan

    executable = args.executable or default_executable()
    layout = layout_for(args.config, executable, INSTALLED_CONFIG)
    steps = plan(layout, args.config, args.tls_name)
    if args.dry_run:
        for number, step in enumerate(steps, 1):
            print(f"{number:2}. {describe(step)}")
        return 0
    for line in apply(steps, args.root):
        print(line)
    return 0


def _status(args: argparse.Namespace) -> int:
    from gateway.ops.status import (
        fetch_health,
        format_health,
        format_offline,
        format_unreachable,
        health_url,
        local_trust,
        read_last_readings,
        read_store_files,
    )
    from gateway.settings import load_settings

    if args.url:
        url = args.url
        settings = None if args.config is None else load_settings(args.config)
    else:
        settings = load_settings(args.config or INSTALLED_CONFIG)
        url = health_url(settings.http)
    trust = None if settings is None else local_trust(settings.http)
    body = asyncio.run(fetch_health(url, trust=trust))
    if body is not None:
        report = format_health(body)
    elif settings is None:
        report = format_unreachable(url)
    else:
        from gateway.storage.registry import READINGS

        store = settings.gateway.data_dir / READINGS.file
        report = format_offline(
            url,
            store,
            read_last_readings(store),
            datetime.now(UTC),
            read_store_files(settings.gateway.data_dir),
        )
    print(report.text, end="")
    return 1 if report.problems else 0


def _backup(args: argparse.Namespace) -> int:
    from gateway.ops.backup import backup

    now = datetime.now(UTC)
    output = args.output or Path(f"coldchain-backup-{now:%Y%m%dT%H%M%SZ}.tar.gz")
    manifest = backup(args.config, output, data_dir=args.data_dir, now=now)
    print(f"{output}: unit {manifest.unit} gateway {manifest.gateway}")
    for copy in manifest.stores:
        rows = sum(copy.rows.values())
        print(f"  {copy.name}: schema {copy.schema_version}, {rows} row(s), {copy.size} bytes")
    personal = [copy.name for copy in manifest.stores if copy.personal_data]
    if personal:
        print(f"holds personal data ({', '.join(personal)}): keep the archive in the clinic")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from gateway.ops.backup import restore

    done = restore(args.archive, args.config, data_dir=args.data_dir, force=args.force)
    manifest = done.manifest
    print(
        f"restored unit {manifest.unit} gateway {manifest.gateway} (backup of"
        f" {manifest.created_at}) into {done.data_dir} and {done.config}; verified"
    )
    if done.set_aside is not None:
        print(f"the files it replaced are kept in {done.set_aside}")
    return 0


OPS_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "install": _install,
    "status": _status,
    "backup": _backup,
    "restore": _restore,
}
