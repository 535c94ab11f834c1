"""`coldchain install`: put the gateway on a Pi as a systemd service, in one command.

`plan` lists the steps (files from `gateway.ops.unit_files`, then the systemd/udev commands that
apply them); `apply` carries them out. With a `root` other than / the files are written below
it and no command runs, which is how the plan is tested and reviewed; the real run needs root.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from gateway.core.errors import GatewayError
from gateway.ops.certificates import CA_CERT, SERVER_CERT, SERVER_KEY, ensure_certificates
from gateway.ops.unit_files import (
    SERVICE_NAME,
    InstallLayout,
    journald_dropin,
    service_unit,
    sysusers_conf,
    tmpfiles_conf,
    udev_rules,
)
from gateway.settings import load_settings

SYSUSERS_FILE = Path("/etc/sysusers.d/coldchain.conf")
TMPFILES_FILE = Path("/etc/tmpfiles.d/coldchain.conf")
UNIT_FILE = Path("/etc/systemd/system") / SERVICE_NAME
UDEV_FILE = Path("/etc/udev/rules.d/70-coldchain.rules")
JOURNALD_FILE = Path("/etc/systemd/journald.conf.d/coldchain.conf")


class InstallError(GatewayError):
    """The installation could not be planned or a step of it failed."""


@dataclass(frozen=True, slots=True)
class WriteFile:
    path: Path
    text: str
    mode: int = 0o644


@dataclass(frozen=True, slots=True)
class CopyConfig:
    """The technician's configuration becomes the installed one, unless one is there already."""

    source: Path
    target: Path


@dataclass(frozen=True, slots=True)
class RunCommand:
    argv: tuple[str, ...]
    why: str


@dataclass(frozen=True, slots=True)
class MakeCertificates:
    """The gateway's own CA and HTTPS certificate for `names`, unless they are there."""

    folder: Path
    names: tuple[str, ...]
    unit: str


Step = WriteFile | CopyConfig | RunCommand | MakeCertificates


def default_executable() -> Path:
    """The `coldchain` script next to this interpreter (the virtualenv's or the system's)."""
    return Path(sys.executable).with_name("coldchain")


def layout_for(config: Path, executable: Path, installed_config: Path) -> InstallLayout:
    """Check the configuration and take its data folder; both paths must suit a service."""
    settings = load_settings(config)
    data_dir = settings.gateway.data_dir
    if not data_dir.is_absolute():
        raise InstallError(
            f"{config}: [gateway] data_dir = {str(data_dir)!r} is relative; fix: give an"
            ' absolute folder for the service, e.g. data_dir = "/var/lib/coldchain"'
        )
    if not executable.is_file() or not os.access(executable, os.X_OK):
        raise InstallError(
            f"{executable}: no coldchain program there; fix: install the package"
            " (pip install .) or name it with --executable"
        )
    if any(char.isspace() for char in str(executable)):
        raise InstallError(f"{executable}: a path with spaces cannot go on ExecStart; move it")
    return InstallLayout(executable, config_file=installed_config, data_dir=data_dir)


def tls_names(config: Path, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """What the certificate is for: the names given, the host of the ack links and of
    `[http] host` when they name one, this machine's name (and .local), and loopback."""
    settings = load_settings(config)
    host = socket.gethostname()
    found = [*extra]
    if settings.alerts is not None:
        found.append(urlsplit(settings.alerts.ack.base_url).hostname or "")
    found += [settings.http.host, host, f"{host}.local", "localhost", "127.0.0.1"]
    wildcard = {"", "0.0.0.0", "::"}  # noqa: S104 (names, not a bind)
    return tuple(dict.fromkeys(name for name in found if name not in wildcard))


def plan(layout: InstallLayout, config: Path, names: Sequence[str] = ()) -> list[Step]:
    unit = load_settings(config).unit.code
    return [
        WriteFile(SYSUSERS_FILE, sysusers_conf()),
        RunCommand(("systemd-sysusers", str(SYSUSERS_FILE)), "create the coldchain user"),
        CopyConfig(config, layout.config_file),
        MakeCertificates(layout.tls_dir, tls_names(config, names), unit),
        WriteFile(TMPFILES_FILE, tmpfiles_conf(layout)),
        RunCommand(
            ("systemd-tmpfiles", "--create", str(TMPFILES_FILE)),
            "create the data and configuration folders, set owners and modes",
        ),
        WriteFile(UDEV_FILE, udev_rules()),
        RunCommand(("udevadm", "control", "--reload"), "load the device rules"),
        RunCommand(
            (
                "udevadm",
                "trigger",
                "--action=add",
                "--subsystem-match=tty",
                "--subsystem-match=input",
            ),
            "name the devices already plugged in",
        ),
        WriteFile(JOURNALD_FILE, journald_dropin(layout)),
        RunCommand(("systemctl", "restart", "systemd-journald"), "bound the journal"),
        WriteFile(UNIT_FILE, service_unit(layout)),
        RunCommand(("systemctl", "daemon-reload"), "load the unit"),
        RunCommand(("systemctl", "enable", "--now", SERVICE_NAME), "start now and at every boot"),
    ]


def describe(step: Step) -> str:
    match step:
        case WriteFile(path, _, mode):
            return f"write {path} (mode {mode:04o})"
        case CopyConfig(source, target):
            return f"copy {source} to {target} unless one is there already"
        case RunCommand(argv, why):
            return f"run {' '.join(argv)}  ({why})"
        case MakeCertificates(folder, names, _):
            return (
                f"make the gateway's CA and HTTPS certificate in {folder} for "
                f"{', '.join(names)} unless they are there"
            )


def apply(steps: Sequence[Step], root: Path) -> list[str]:
    """Carry the steps out below `root`; commands run only when `root` is /. Returns one line
    per step saying what was done."""
    live = root == Path("/")
    if live and os.geteuid() != 0:
        raise InstallError(
            "installing needs root (it creates a user and writes below /etc); fix: run it"
            " with sudo, or pass --dry-run to see the plan or --root DIR to write the files"
            " below DIR"
        )
    done = []
    for step in steps:
        match step:
            case WriteFile(path, text, mode):
                _write(_under(root, path), text, mode)
                done.append(f"wrote {path}")
            case CopyConfig(source, target):
                done.append(_copy_config(source, _under(root, target), target))
            case MakeCertificates(folder, names, unit):
                done.append(_certificates(_under(root, folder), folder, names, unit))
            case RunCommand(argv, why):
                if not live:
                    done.append(f"skipped below --root: {' '.join(argv)}")
                    continue
                _run(argv, why)
                done.append(f"ran {' '.join(argv)}")
    return done


def _under(root: Path, path: Path) -> Path:
    return root / path.relative_to("/")


def _write(path: Path, text: str, mode: int) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.new")
        temporary.write_text(text, encoding="utf-8")
        temporary.chmod(mode)
        temporary.replace(path)
    except OSError as error:
        raise InstallError(
            f"{path}: cannot write ({error.strerror}); fix: check the disk and that the folder"
            " is writable"
        ) from None


def _certificates(path: Path, shown: Path, names: Sequence[str], unit: str) -> str:
    issued = ensure_certificates(path, names, unit, datetime.now(UTC))
    what = "made" if issued.made else "kept"
    return (
        f"{what} the gateway's certificate authority {shown / CA_CERT} (SHA-256 "
        f"{issued.ca_fingerprint}) and HTTPS certificate {shown / SERVER_CERT} for "
        f"{', '.join(issued.names)}; install {CA_CERT} on the clinic's phones and computers, "
        f"check that they show this fingerprint, and set [http] tls_cert and tls_key to "
        f"{shown / SERVER_CERT} and {shown / SERVER_KEY}"
    )


def _copy_config(source: Path, path: Path, shown: Path) -> str:
    if path.exists():
        return f"kept the configuration already at {shown} ({source} not copied)"
    _write(path, source.read_text(encoding="utf-8"), 0o640)
    return f"copied {source} to {shown}"


def _run(argv: tuple[str, ...], why: str) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError:
        raise InstallError(
            f"{argv[0]}: not found; fix: install on a systemd system (Raspberry Pi OS, Debian)"
        ) from None
    if result.returncode != 0:
        raise InstallError(
            f"{' '.join(argv)} failed ({why}): {result.stderr.strip() or result.returncode};"
            " fix: correct what it says and run coldchain install again (it is idempotent)"
        )
