"""A pair of connected pseudo-terminals from socat: a null-modem cable for Modbus RTU tests.

One end takes the simulated devices (`RtuSimServer`), the other the gateway or a client; a pty
ignores baud rate and timing, so bus timing is not what these tests prove.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from firmware_sim import SimulatorError


@dataclass(frozen=True, slots=True)
class PtyPair:
    """The two ends (symlinks to /dev/pts/N) and the PID of the socat joining them."""

    a: Path
    b: Path
    pid: int


async def _wait_for_links(process: asyncio.subprocess.Process, links: tuple[Path, ...]) -> None:
    """Read socat's notices until both links exist; socat makes them before its last notice."""
    stderr = process.stderr
    if stderr is None:
        raise RuntimeError("socat must be started with stderr=PIPE")
    notices: list[str] = []
    while not all(link.exists() for link in links):
        line = await stderr.readline()
        if not line:
            await process.wait()
            raise SimulatorError(
                f"socat exited with status {process.returncode} before creating "
                f"{' and '.join(map(str, links))}: {' / '.join(notices) or 'no output'}"
            )
        notices.append(line.decode(errors="replace").strip())


async def _stop(process: asyncio.subprocess.Process, timeout_s: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.communicate()


@contextlib.asynccontextmanager
async def pty_pair(directory: Path, *, timeout_s: float = 5.0) -> AsyncIterator[PtyPair]:
    """Run `socat` linking `directory/ttyA` and `directory/ttyB`; stop it (by PID) on exit."""
    a, b = directory / "ttyA", directory / "ttyB"
    try:
        process = await asyncio.create_subprocess_exec(
            "socat",
            "-d",
            "-d",
            f"pty,raw,echo=0,link={a}",
            f"pty,raw,echo=0,link={b}",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise SimulatorError(
            "socat is not installed: install the Debian package socat (apt-get install -y socat)"
        ) from None
    try:
        try:
            await asyncio.wait_for(_wait_for_links(process, (a, b)), timeout_s)
        except TimeoutError:
            raise SimulatorError(
                f"socat did not create {a} and {b} within {timeout_s} s: check that "
                f"{directory} is writable and that ptys are available (/dev/ptmx)"
            ) from None
        yield PtyPair(a=a, b=b, pid=process.pid)
    finally:
        await _stop(process, timeout_s)
