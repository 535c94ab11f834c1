"""Helpers for tests of a real gateway process against simulated Modbus devices."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 30.0

# The unit, gateway and HTTP sections every test clinic starts with ({data_dir} to fill in).
CLINIC_HEADER = """
[unit]
code = "6101030203"
name = "测试门诊"
region_code = "610102"

[gateway]
number = "10001"
data_dir = "{data_dir}"

[http]
host = "127.0.0.1"
port = 0
"""

CLINIC = (
    CLINIC_HEADER
    + """
[store]
flush_interval_s = 0.25

[[buses]]
name = "sim"
transport = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.3

[[fridges]]
code = "F1"
name = "1号冰箱"
kind = "refrigerator"
{compartments}
{probes}
"""
)

PROBES_PER_LOGGER = 8
LOGGERS = 3


def clinic_toml(data_dir: Path, port: int, poll_interval_s: float) -> str:
    compartments = []
    probes = []
    for device in range(1, LOGGERS + 1):
        for channel in range(PROBES_PER_LOGGER):
            name = f"C{device}{channel}"
            compartments.append(
                f'  [[fridges.compartments]]\n  name = "{name}"\n  kind = "refrigerated"\n'
            )
            probes.append(
                f'[[probes]]\ncode = "P{device}{channel}"\nbus = "sim"\ndevice_id = {device}\n'
                f'channel = {channel}\nprofile = "logger-8ch"\ncompartment = "F1/{name}"\n'
                f"poll_interval_s = {poll_interval_s}\n"
            )
    return CLINIC.format(
        data_dir=data_dir,
        port=port,
        compartments="".join(compartments),
        probes="\n".join(probes),
    )


@dataclass
class Clinic:
    config: Path
    data_dir: Path
    probes: int = LOGGERS * PROBES_PER_LOGGER


class GatewayProcess:
    """`coldchain run` as a child process; the URL is read from its first line of output, and
    what it logs goes to `gateway.log` beside the configuration (a pipe nobody reads could
    fill up and stall it). Requests carry `token` as a Bearer API token (see
    `tests.web_support.api_token`)."""

    def __init__(
        self, process: asyncio.subprocess.Process, log: Path, token: str | None = None
    ) -> None:
        self.process = process
        self.log = log
        self.url = ""
        self.token = token

    @property
    def base(self) -> str:
        """The URL without its final slash, to put a path after."""
        return self.url.rstrip("/")

    @classmethod
    async def start(
        cls,
        config: Path,
        token: str | None = None,
        *,
        within_s: float = START_TIMEOUT_S,
        preexec: Callable[[], None] | None = None,
    ) -> GatewayProcess:
        """`preexec` runs in the child before the gateway starts (e.g. to lower a limit)."""
        log = config.with_name("gateway.log")
        with log.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "gateway",
                "run",
                "--config",
                str(config),
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr.fileno(),
                env=os.environ | {"PYTHONUNBUFFERED": "1"},
                preexec_fn=preexec,
            )
        gateway = cls(process, log, token)
        assert process.stdout is not None
        line = b""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_s):
                while line := await process.stdout.readline():
                    if b"listening on " in line:
                        break
        if b"listening on " not in line:
            await gateway.kill()
            raise AssertionError(f"the gateway did not start; it logged:\n{gateway.logged()}")
        gateway.url = line.decode().split("listening on ", 1)[1].split()[0]
        return gateway

    async def get_text(self, path: str) -> str:
        reader, writer = await asyncio.open_connection(*self.host_port())
        writer.write(f"GET {path} HTTP/1.0\r\nHost: test\r\n{self.auth_header()}\r\n".encode())
        await writer.drain()
        raw = await reader.read()
        writer.close()
        await writer.wait_closed()
        _, _, body = raw.partition(b"\r\n\r\n")
        return body.decode()

    async def get_json(self, path: str) -> object:
        return json.loads(await self.get_text(path))

    def auth_header(self) -> str:
        """The Authorization header line (with its CRLF), or nothing without a token."""
        return f"Authorization: Bearer {self.token}\r\n" if self.token else ""

    def host_port(self) -> tuple[str, int]:
        host_port = self.url.split("://", 1)[1].rstrip("/")
        host, _, port = host_port.rpartition(":")
        return host, int(port)

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    def logged(self, last: int = 3000) -> str:
        """The end of what the process has logged so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")[-last:]

    async def terminate(self, within_s: float) -> int:
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout=within_s)

    async def stop(self) -> None:
        """SIGTERM, or SIGKILL if it has not exited within 10 s."""
        if self.process.returncode is None:
            try:
                await self.terminate(within_s=10.0)
            except TimeoutError:
                await self.kill()
