"""A real gateway process with a serial line logger and a serial barcode scanner, each on a
socat pty pair: the logger's readings are stored, scans keep their raw bytes exactly, and a
scan can also be posted to the API."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from firmware_sim.pty_pair import pty_pair
from firmware_sim.scenarios import build_scenario
from firmware_sim.serial_devices import LoggerChannel, PtyWriter, run_logger
from gateway.auth.policy import Role
from gateway.core.clock import SystemClock
from gateway.core.compartments import CompartmentKind
from tests.e2e.support import CLINIC_HEADER, GatewayProcess
from tests.web_support import api_token

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

CLINIC = (
    CLINIC_HEADER
    + """
[[fridges]]
code = "F1"
name = "1号冰箱"
kind = "refrigerator"
  [[fridges.compartments]]
  name = "冷藏"
  kind = "refrigerated"
  [[fridges.compartments]]
  name = "冷冻"
  kind = "frozen"

[[probes]]
code = "S1"
transport = "serial"
port = "{logger}"
field = "t1"
compartment = "F1/冷藏"
  [probes.format]
  fields = [{{ name = "t1", key = "T1" }}, {{ name = "t2", key = "T2" }}]

[[probes]]
code = "S2"
transport = "serial"
port = "{logger}"
field = "t2"
compartment = "F1/冷冻"
  [probes.format]
  fields = [{{ name = "t1", key = "T1" }}, {{ name = "t2", key = "T2" }}]

[[scanners]]
name = "desk"
kind = "serial"
station = "vaccination-1"
port = "{scanner}"
"""
)

# A GS1 DataMatrix as a scanner sends it: AIM symbology identifier, FNC1 as GS (0x1D).
GS1_SCAN = b"]d201069012345678901721123110ABC123\x1d21SERIAL0001"


@contextlib.asynccontextmanager
async def logger_on(path: Path) -> AsyncIterator[None]:
    writer = PtyWriter(path)
    channels = [
        LoggerChannel("T1", build_scenario("steady", seed=1)),
        LoggerChannel("T2", build_scenario("steady", seed=2), CompartmentKind.FROZEN),
    ]
    task = asyncio.create_task(
        run_logger(writer, channels, SystemClock(), interval_s=0.2), name="sim-logger"
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        writer.close()


async def post_json(gateway: GatewayProcess, path: str, body: object) -> tuple[int, object]:
    host_port = gateway.url.removeprefix("http://").rstrip("/")
    host, _, port = host_port.rpartition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    data = json.dumps(body).encode()
    writer.write(
        f"POST {path} HTTP/1.0\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"{gateway.auth_header()}Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    await writer.drain()
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, payload = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


async def test_serial_logger_and_scanner_through_a_real_gateway(tmp_path: Path) -> None:
    (tmp_path / "logger").mkdir()
    (tmp_path / "scanner").mkdir()
    async with (
        pty_pair(tmp_path / "logger") as logger,
        pty_pair(tmp_path / "scanner") as scanner,
        logger_on(logger.a),
    ):
        config = tmp_path / "clinic.toml"
        config.write_text(
            CLINIC.format(data_dir=tmp_path / "data", logger=logger.b, scanner=scanner.b),
            encoding="utf-8",
        )
        token = api_token(tmp_path / "data", Role.VACCINATOR)
        gateway = await GatewayProcess.start(config, token=token)
        try:
            scanner_writer = PtyWriter(scanner.a)
            try:
                for _ in range(100):
                    scans = await gateway.get_json("/api/scans")
                    fridges = await gateway.get_json("/api/fridges")
                    assert isinstance(scans, dict)
                    assert isinstance(fridges, list)
                    if not scans["scans"]:
                        scanner_writer.write(GS1_SCAN + b"\r")
                    temperatures = [c["temperature"] for c in fridges]
                    if scans["scans"] and None not in temperatures:
                        break
                    await asyncio.sleep(0.1)
            finally:
                scanner_writer.close()
            refrigerated, frozen = fridges
            assert 2.0 <= refrigerated["temperature"] <= 8.0
            assert frozen["temperature"] <= -15.0
            scan = scans["scans"][0]
            assert base64.b64decode(scan["raw_base64"]) == GS1_SCAN, "raw bytes kept exactly"
            assert (scan["scanner"], scan["station"], scan["symbology"]) == (
                "desk",
                "vaccination-1",
                "]d2",
            )
            status, posted = await post_json(
                gateway,
                "/api/scans",
                {"raw": "81900670270577219264", "scanner": "phone", "station": "stock-room"},
            )
            assert status == 201
            assert isinstance(posted, dict)
            assert posted["seq"] == scan["seq"] + 1
            health = await gateway.get_json("/api/health")
            assert isinstance(health, dict)
            by_name = {source["name"]: source for source in health["sources"]}
            assert len(by_name) == 2
            assert all(source["connected"] for source in by_name.values()), by_name
        finally:
            assert await gateway.terminate(within_s=5.0) == 0
