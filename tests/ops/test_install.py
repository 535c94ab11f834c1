"""`coldchain install`: the plan, the files written below --root, and the refusals."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.ops.install import (
    JOURNALD_FILE,
    SYSUSERS_FILE,
    TMPFILES_FILE,
    UNIT_FILE,
    InstallError,
    RunCommand,
    apply,
    default_executable,
    layout_for,
    plan,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "gateway.toml"
INSTALLED = Path("/etc/coldchain/gateway.toml")


def test_install_below_root_writes_every_file_and_runs_nothing(tmp_path: Path) -> None:
    layout = layout_for(EXAMPLE, default_executable(), INSTALLED)
    steps = plan(layout, EXAMPLE)
    done = apply(steps, tmp_path)
    assert sum(isinstance(step, RunCommand) for step in steps) == sum(
        line.startswith("skipped below --root") for line in done
    )
    unit = tmp_path / UNIT_FILE.relative_to("/")
    assert "WatchdogSec=30" in unit.read_text(encoding="utf-8")
    assert (tmp_path / SYSUSERS_FILE.relative_to("/")).is_file()
    assert (tmp_path / JOURNALD_FILE.relative_to("/")).is_file()
    config = tmp_path / INSTALLED.relative_to("/")
    assert config.read_bytes() == EXAMPLE.read_bytes()
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    analyze = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (analyze.returncode, analyze.stderr) == (0, "")


def test_a_second_install_keeps_the_installed_configuration(tmp_path: Path) -> None:
    config = tmp_path / INSTALLED.relative_to("/")
    config.parent.mkdir(parents=True)
    config.write_text("# edited on the Pi\n", encoding="utf-8")
    layout = layout_for(EXAMPLE, default_executable(), INSTALLED)
    done = apply(plan(layout, EXAMPLE), tmp_path)
    assert any(line.startswith("kept the configuration") for line in done)
    assert config.read_text(encoding="utf-8") == "# edited on the Pi\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="systemd-tmpfiles sets owners: needs root")
def test_sysusers_and_tmpfiles_apply_to_an_empty_tree(tmp_path: Path) -> None:
    """systemd-sysusers and systemd-tmpfiles, with --root, apply the files to an empty tree:
    the user, its groups, and the folders with their owners and modes appear."""
    sysusers = shutil.which("systemd-sysusers")
    if sysusers is None:
        pytest.fail("systemd-sysusers missing: install the Debian package systemd (make debs)")
    layout = layout_for(EXAMPLE, default_executable(), INSTALLED)
    apply(plan(layout, EXAMPLE), tmp_path)
    etc = tmp_path / "etc"
    for name in ("passwd", "group", "shadow", "gshadow"):
        (etc / name).touch()
    result = subprocess.run(
        [sysusers, f"--root={tmp_path}", str(tmp_path / SYSUSERS_FILE.relative_to("/"))],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    groups = (etc / "group").read_text(encoding="utf-8")
    assert any(
        line.startswith("dialout:") and line.endswith(":coldchain") for line in groups.splitlines()
    )
    passwd = (etc / "passwd").read_text(encoding="utf-8")
    uid, gid = next(
        (int(line.split(":")[2]), int(line.split(":")[3]))
        for line in passwd.splitlines()
        if line.startswith("coldchain:")
    )
    result = subprocess.run(
        [
            "systemd-tmpfiles",
            f"--root={tmp_path}",
            "--create",
            str(tmp_path / TMPFILES_FILE.relative_to("/")),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    data = (tmp_path / "var/lib/coldchain").stat()
    assert (stat.S_IMODE(data.st_mode), data.st_uid, data.st_gid) == (0o750, uid, gid)
    config = (tmp_path / INSTALLED.relative_to("/")).stat()
    assert (stat.S_IMODE(config.st_mode), config.st_uid, config.st_gid) == (0o640, 0, gid)


def test_dry_run_prints_the_plan_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["install", "--config", str(EXAMPLE), "--dry-run", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "systemctl enable --now coldchain.service" in out
    assert str(UNIT_FILE) in out
    assert list(tmp_path.iterdir()) == []


def test_real_install_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    layout = layout_for(EXAMPLE, default_executable(), INSTALLED)
    with pytest.raises(InstallError, match="needs root"):
        apply(plan(layout, EXAMPLE), Path("/"))


def test_a_relative_data_dir_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    text = EXAMPLE.read_text(encoding="utf-8")
    config.write_text(text.replace('data_dir = "/var/lib/coldchain"', 'data_dir = "data"'), "utf-8")
    with pytest.raises(InstallError, match="relative"):
        layout_for(config, default_executable(), INSTALLED)
