"""The system files that make a Raspberry Pi run the gateway unattended, as pure functions.

Each function returns the text of one file from an `InstallLayout`; `gateway.ops.install` decides
where they go and what runs after. The choices, in short:

- The user comes from a sysusers.d file and the folders from a tmpfiles.d file: declarative,
  idempotent and re-applied at every boot by systemd itself, the same files a Debian package
  ships (debhelper's dh_installsysusers / dh_installtmpfiles) rather than `useradd` calls
  whose result drifts when someone edits /etc/group by hand.
- The unit is `Type=notify` with `WatchdogSec=`: the gateway says READY=1 once serving and
  pings from its event loop (`gateway.ops.watchdog`), so a hung loop is killed and restarted.
  Sandboxing is as strict as serial, HID and BLE allow: a read-only system except the data
  folder, no capabilities, and a device allow-list of the serial and input classes.
  `LimitNOFILE=` leaves room for the web server's connection cap (`[http] max_connections`,
  512 by default) above the files the gateway keeps open itself; the server never accepts
  more connections than the limit allows (`gateway.web.connections`).
- udev gives the known USB-serial adapters and scanners stable names under /dev/coldchain/
  (by USB port, so a replaced adapter in the same socket keeps its name).
- journald keeps the logs, bounded in size so that they do not wear or fill the SD card.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SERVICE_USER = "coldchain"
SERVICE_NAME = "coldchain.service"
#: serial probes and Modbus RTU adapters; BlueZ over D-Bus; keyboard-wedge (evdev) scanners.
SUPPLEMENTARY_GROUPS = ("dialout", "bluetooth", "input")
#: open files allowed: eight times the default connection cap with the gateway's own files
OPEN_FILES = 4096


@dataclass(frozen=True, slots=True)
class InstallLayout:
    """Where things live on the installed system (absolute paths on the target)."""

    executable: Path
    config_file: Path = Path("/etc/coldchain/gateway.toml")
    data_dir: Path = Path("/var/lib/coldchain")
    watchdog_s: int = 30
    journal_max_use: str = "64M"

    @property
    def config_dir(self) -> Path:
        return self.config_file.parent

    @property
    def tls_dir(self) -> Path:
        """The gateway's CA and HTTPS certificate (`gateway.ops.certificates`)."""
        return self.config_dir / "tls"


@dataclass(frozen=True, slots=True)
class UsbDevice:
    """A USB device model the gateway meets in clinics, and the stable name prefix it gets."""

    vendor: str
    product: str
    name: str
    subsystem: str
    note: str


KNOWN_DEVICES: tuple[UsbDevice, ...] = (
    UsbDevice("0403", "6001", "rs485", "tty", "FTDI FT232R USB-RS485 adapter"),
    UsbDevice("0403", "6015", "rs485", "tty", "FTDI FT-X USB-RS485 adapter"),
    UsbDevice("1a86", "7523", "rs485", "tty", "WCH CH340 USB-serial adapter"),
    UsbDevice("1a86", "55d4", "rs485", "tty", "WCH CH9102 USB-serial adapter"),
    UsbDevice("10c4", "ea60", "rs485", "tty", "Silicon Labs CP210x USB-serial adapter"),
    UsbDevice("067b", "2303", "rs485", "tty", "Prolific PL2303 USB-serial adapter"),
    UsbDevice("0c2e", "0b61", "scanner", "tty", "Honeywell scanner in USB serial (CDC) mode"),
    UsbDevice("05e0", "1701", "scanner", "tty", "Zebra/Symbol scanner in USB CDC mode"),
    UsbDevice("1eab", "1d06", "scanner", "tty", "Newland scanner in USB CDC mode"),
    UsbDevice("0c2e", "0b6a", "scanner", "input", "Honeywell scanner as a USB keyboard"),
    UsbDevice("05e0", "1200", "scanner", "input", "Zebra/Symbol scanner as a USB keyboard"),
    UsbDevice("1eab", "1d03", "scanner", "input", "Newland scanner as a USB keyboard"),
)


def sysusers_conf() -> str:
    lines = [
        "# coldchain gateway: the service user and the groups its devices need.",
        f'u {SERVICE_USER} - "coldchain gateway" - -',
    ]
    lines += [f"m {SERVICE_USER} {group}" for group in SUPPLEMENTARY_GROUPS]
    return "\n".join(lines) + "\n"


def tmpfiles_conf(layout: InstallLayout) -> str:
    """The data folder is the service's alone; the configuration (it holds server tokens) is
    root's, readable by the service's group."""
    return (
        "# coldchain gateway: data and configuration folders.\n"
        f"d {layout.data_dir} 0750 {SERVICE_USER} {SERVICE_USER} -\n"
        f"d {layout.config_dir} 0750 root {SERVICE_USER} -\n"
        f"z {layout.config_file} 0640 root {SERVICE_USER} -\n"
        f"d {layout.tls_dir} 0750 root {SERVICE_USER} -\n"
        f"z {layout.tls_dir}/gateway.key 0640 root {SERVICE_USER} -\n"
        f"z {layout.tls_dir}/ca.key 0600 root root -\n"
    )


def service_unit(layout: InstallLayout) -> str:
    groups = " ".join(SUPPLEMENTARY_GROUPS)
    return f"""\
[Unit]
Description=coldchain vaccine cold-chain gateway
Wants=network-online.target time-sync.target
After=network-online.target time-sync.target bluetooth.target systemd-tmpfiles-setup.service
StartLimitIntervalSec=0

[Service]
Type=notify
NotifyAccess=main
ExecStart={layout.executable} run --config {layout.config_file}
User={SERVICE_USER}
Group={SERVICE_USER}
SupplementaryGroups={groups}
Restart=always
RestartSec=5
WatchdogSec={layout.watchdog_s}
LimitNOFILE={OPEN_FILES}
TimeoutStartSec=120
TimeoutStopSec=15
UMask=0027
StandardOutput=journal
StandardError=journal
SyslogIdentifier=coldchain
Environment=PYTHONUNBUFFERED=1

ProtectSystem=strict
ReadWritePaths={layout.data_dir}
ReadOnlyPaths={layout.config_dir}
ProtectHome=yes
PrivateTmp=yes
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_BLUETOOTH
DevicePolicy=closed
DeviceAllow=char-ttyUSB rw
DeviceAllow=char-ttyACM rw
DeviceAllow=char-ttyAMA rw
DeviceAllow=char-ttyS rw
DeviceAllow=char-input r

[Install]
WantedBy=multi-user.target
"""


def udev_rules() -> str:
    """Symlinks /dev/coldchain/<name>-<USB port> (ID_PATH_TAG comes from 60-serial.rules and
    60-persistent-input.rules, hence the file's number 70)."""
    lines = [
        "# coldchain gateway: stable names for known USB-serial adapters and barcode scanners.",
    ]
    for device in KNOWN_DEVICES:
        kernel = ', KERNEL=="event*"' if device.subsystem == "input" else ""
        group = "dialout" if device.subsystem == "tty" else "input"
        match = (
            f'SUBSYSTEM=="{device.subsystem}"{kernel}, ATTRS{{idVendor}}=="{device.vendor}", '
            f'ATTRS{{idProduct}}=="{device.product}"'
        )
        action = (
            f'GROUP="{group}", MODE="0660", SYMLINK+="coldchain/{device.name}-%E{{ID_PATH_TAG}}"'
        )
        lines += [f"# {device.note}", f"{match}, {action}"]
    return "\n".join(lines) + "\n"


def journald_dropin(layout: InstallLayout) -> str:
    """Bound the journal: the SD card keeps weeks of logs, never gigabytes."""
    return (
        "# coldchain gateway: bounded journal on the SD card.\n"
        "[Journal]\n"
        f"SystemMaxUse={layout.journal_max_use}\n"
        "SystemMaxFileSize=8M\n"
        "SystemKeepFree=256M\n"
        "MaxRetentionSec=3month\n"
        "SyncIntervalSec=5m\n"
    )
