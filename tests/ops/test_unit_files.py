"""The generated system files: the unit passes `systemd-analyze verify`, the others parse."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.ops.unit_files import (
    KNOWN_DEVICES,
    SERVICE_NAME,
    InstallLayout,
    journald_dropin,
    service_unit,
    sysusers_conf,
    tmpfiles_conf,
    udev_rules,
)
from gateway.settings import HttpSettings
from gateway.web.connections import RESERVED_FILES

EXECUTABLE = Path(sys.executable)  # any program that exists: verify checks ExecStart


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze missing: install the Debian package systemd (make debs)")
    unit = tmp_path / SERVICE_NAME
    unit.write_text(service_unit(InstallLayout(EXECUTABLE)), encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    # verify only warns (exit 0) about unknown keys and bad values: any output is a failure.
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt directive is reported."""
    unit = tmp_path / SERVICE_NAME
    text = service_unit(InstallLayout(EXECUTABLE)).replace("WatchdogSec=", "WatchdogSecs=")
    unit.write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert "WatchdogSecs" in result.stderr


def test_unit_is_a_watched_notify_service_that_may_use_serial_and_writes_only_data() -> None:
    layout = InstallLayout(EXECUTABLE, data_dir=Path("/srv/coldchain"), watchdog_s=20)
    found = directives(service_unit(layout))
    assert found["Type"] == ["notify"]
    assert found["NotifyAccess"] == ["main"]
    assert found["Restart"] == ["always"]
    assert found["WatchdogSec"] == ["20"]
    open_files = int(found["LimitNOFILE"][0])
    assert open_files >= HttpSettings().max_connections + RESERVED_FILES, "the cap fits"
    assert open_files > 1024, "above systemd's default soft limit"
    assert found["ProtectSystem"] == ["strict"]
    assert found["ReadWritePaths"] == ["/srv/coldchain"]
    assert found["User"] == ["coldchain"]
    assert "dialout" in found["SupplementaryGroups"][0].split()
    assert "bluetooth" in found["SupplementaryGroups"][0].split()
    assert "char-ttyUSB rw" in found["DeviceAllow"]
    assert found["StandardOutput"] == ["journal"]
    assert found["ExecStart"] == [f"{EXECUTABLE} run --config /etc/coldchain/gateway.toml"]


def test_sysusers_creates_the_user_in_the_device_groups() -> None:
    lines = [line.split() for line in sysusers_conf().splitlines() if not line.startswith("#")]
    assert lines[0][:2] == ["u", "coldchain"]
    members = {line[2] for line in lines if line[0] == "m"}
    assert {"dialout", "bluetooth"} <= members


def test_tmpfiles_keeps_data_private_and_config_root_owned() -> None:
    layout = InstallLayout(EXECUTABLE, data_dir=Path("/srv/coldchain"))
    rows = [line.split() for line in tmpfiles_conf(layout).splitlines()[1:]]
    assert ["d", "/srv/coldchain", "0750", "coldchain", "coldchain", "-"] in rows
    assert ["z", "/etc/coldchain/gateway.toml", "0640", "root", "coldchain", "-"] in rows


def test_udev_rules_name_every_known_device_under_dev_coldchain() -> None:
    rules = [line for line in udev_rules().splitlines() if not line.startswith("#")]
    assert len(rules) == len(KNOWN_DEVICES)
    for rule, device in zip(rules, KNOWN_DEVICES, strict=True):
        assert f'ATTRS{{idVendor}}=="{device.vendor}"' in rule
        assert f'SYMLINK+="coldchain/{device.name}-' in rule
        assert ', GROUP="' in rule


def test_udev_rules_pass_udevadm_verify_when_available(tmp_path: Path) -> None:
    udevadm = shutil.which("udevadm")
    help_text = subprocess.run(
        [udevadm or "udevadm", "--help"], capture_output=True, text=True, check=False
    ).stdout
    if udevadm is None or " verify " not in help_text:
        pytest.skip("udevadm verify needs systemd 253 or later (Debian 12 has 252)")
    rules = tmp_path / "70-coldchain.rules"
    rules.write_text(udev_rules(), encoding="utf-8")
    result = subprocess.run(
        [udevadm, "verify", str(rules)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_journal_is_bounded() -> None:
    found = directives(journald_dropin(InstallLayout(EXECUTABLE, journal_max_use="32M")))
    assert found["SystemMaxUse"] == ["32M"]
