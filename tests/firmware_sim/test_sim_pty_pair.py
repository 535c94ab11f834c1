"""The socat pty pair: two linked ends, a clean stop, a clear error without socat."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from firmware_sim import SimulatorError
from firmware_sim.pty_pair import pty_pair


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.asyncio
async def test_bytes_written_to_one_end_come_out_of_the_other(tmp_path: Path) -> None:
    async with pty_pair(tmp_path) as pair:
        assert pair.a == tmp_path / "ttyA"
        assert pair.a.resolve().parent == Path("/dev/pts")
        a = os.open(pair.a, os.O_RDWR | os.O_NOCTTY)
        b = os.open(pair.b, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(a, b"\x01\x03\x00\x00\x00\x01")
            assert os.read(b, 64) == b"\x01\x03\x00\x00\x00\x01"
        finally:
            os.close(a)
            os.close(b)
        pid = pair.pid
        assert pid_alive(pid)
    assert not pid_alive(pid)


@pytest.mark.asyncio
async def test_without_socat_the_error_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SimulatorError, match="install the Debian package socat"):
        async with pty_pair(tmp_path):
            pass


@pytest.mark.asyncio
async def test_a_failing_socat_reports_its_output(tmp_path: Path) -> None:
    with pytest.raises(SimulatorError, match="socat exited with status 1 before creating"):
        async with pty_pair(tmp_path / "missing-directory"):
            pass
