"""SIGTERM at any moment of a real `coldchain run`'s start-up (the imports, the settings, the
stores, the first polls, the web server) exits 0 cleanly, by the console script and by
`python -m gateway` alike."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.e2e.support import START_TIMEOUT_S, Clinic

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

#: Real seconds from the moment the entry point catches SIGTERM to the signal: the first ones
#: fall in the imports (0.3-1 s), the last ones as late as the gateway listens on a quiet
#: machine (a stop once it listens: tests/e2e/test_stop_budget.py).
MOMENTS_S = (0.0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.8, 1.2, 2.0)
CONSOLE_SCRIPT = Path(sys.executable).with_name("coldchain")


def importing(pid: int) -> bool:
    """Whether process `pid` is still importing the command line: pydantic's compiled core,
    which the settings' models need, is not loaded yet."""
    return "_pydantic_core" not in Path(f"/proc/{pid}/maps").read_text(encoding="utf-8")


def catches_sigterm(pid: int) -> bool:
    """Whether process `pid` has a handler of its own for SIGTERM (/proc's SigCgt mask)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


async def stop_at(config: Path, moment_s: float, command: list[str]) -> tuple[int, str, str]:
    """Start `command run`, SIGTERM it `moment_s` after it catches the signal; its exit
    status, what it logged, and when the signal came (importing, starting or listening)."""
    log = config.with_name("gateway.log")
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *command, "run", "--config", str(config),
            stdout=asyncio.subprocess.PIPE, stderr=stderr.fileno(),
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            while not catches_sigterm(process.pid):
                assert process.returncode is None, "the command ended by itself"
                await asyncio.sleep(0.001)
        await asyncio.sleep(moment_s)
        when = "importing" if importing(process.pid) else "starting"
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            printed, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    logged = log.read_text(encoding="utf-8", errors="replace")
    return process.returncode, logged, "listening" if b"listening on" in printed else when


async def test_sigterm_at_any_moment_of_start_up_exits_zero(clinic: Clinic) -> None:
    assert CONSOLE_SCRIPT.exists(), f"{CONSOLE_SCRIPT}: install the package (make)"
    commands = [[str(CONSOLE_SCRIPT)], [sys.executable, "-m", "gateway"]]
    moments = []
    for round_, moment_s in enumerate(MOMENTS_S):
        command = commands[round_ % 2]
        code, logged, when = await stop_at(clinic.config, moment_s, command)
        assert code == 0, f"{command} stopped {moment_s} s in: exit {code}\n{logged[-3000:]}"
        assert "Traceback" not in logged, f"{command} stopped {moment_s} s in:\n{logged}"
        moments.append(when)
    assert "importing" in moments, f"no SIGTERM came while importing: at {MOMENTS_S} s {moments}"
