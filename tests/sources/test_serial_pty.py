"""Serial probes and serial scanners over real pty pairs (socat), with the simulators of
firmware_sim.serial_devices on the other end. Real time, bounded by `eventually`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from firmware_sim.pty_pair import pty_pair
from firmware_sim.scenarios import build_scenario
from firmware_sim.serial_devices import LoggerChannel, PtyWriter, run_logger
from gateway.core.clock import SystemClock
from gateway.core.compartments import CompartmentKind
from probes.reading import ProbeStatus
from probes.scanner_serial import SerialScannerDriver
from probes.scanner_settings import SerialScanner
from probes.serial_probe import SerialProbeDriver
from probes.settings import LineField, SerialLineFormat, SerialProbe
from tests.sources.conftest import Collected, Start, eventually

FMT = SerialLineFormat(
    fields=[LineField(name="fridge", key="T1"), LineField(name="freezer", key="T2")],
    checksum="xor8",
)


def _probes(port: Path) -> list[SerialProbe]:
    common = {
        "port": str(port),
        "format": FMT,
        "compartment": "F/m",
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.1,
        "stale_after_s": 0.5,
    }
    return [
        SerialProbe(code="S1", field="fridge", **common),
        SerialProbe(code="S2", field="freezer", **common),
    ]


@pytest.mark.asyncio
async def test_logger_over_a_pty_with_unplug_and_stale(
    tmp_path: Path, background: Start, collected: Collected
) -> None:
    clock = SystemClock()
    async with pty_pair(tmp_path) as pair:
        driver = SerialProbeDriver(_probes(pair.b), collected.reading, clock)
        background(driver.run())
        await eventually(lambda: driver.health.connected)
        writer = PtyWriter(pair.a)
        channels = [
            LoggerChannel("T1", build_scenario("steady")),
            LoggerChannel(
                "T2", build_scenario("probe-disconnected", onset_s=0.0), CompartmentKind.FROZEN
            ),
        ]
        logger = background(
            run_logger(writer, channels, clock, interval_s=0.05, with_checksum=True)
        )
        await eventually(lambda: len(collected.of("S2")) >= 3)
        fridge = collected.of("S1")[0]
        assert fridge.status is ProbeStatus.OK
        assert fridge.temperature is not None
        assert 3.0 < fridge.temperature < 6.5
        assert collected.of("S2")[0].status is ProbeStatus.DISCONNECTED
        # garbage, a bad checksum, then silence: bad lines counted, probes go stale
        logger.cancel()
        writer.write(b"\xff\xfeT1=1*00\nT1=4.0,T2=-18.0*7F\r")
        await eventually(lambda: driver.health.bad_lines >= 2)
        assert "checksum mismatch" in (driver.health.last_bad_line or "")
        await eventually(lambda: collected.of("S1")[-1].status is ProbeStatus.STALE)
        writer.close()
    # socat gone: the port disappears, the probes report bus_error
    await eventually(lambda: not driver.health.connected)
    await eventually(lambda: collected.of("S1")[-1].status is ProbeStatus.BUS_ERROR)
    assert "does not exist" in (driver.health.link_error or "")
    async with pty_pair(tmp_path) as pair:  # plugged in again, same path
        await eventually(lambda: driver.health.connected)
        writer = PtyWriter(pair.a)
        body = b"T1=+05.0,T2=-20.0"
        writer.write(body + b"*%02X\n" % _xor(body))
        await eventually(lambda: collected.of("S1")[-1].status is ProbeStatus.OK)
        assert collected.of("S2")[-1].temperature == -20.0
        writer.close()


def _xor(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


GS1 = b"]d2\x1d0106901234567890172112311010ABC\x1d21SN0001"


@pytest.mark.asyncio
async def test_serial_scanner_over_a_pty(
    tmp_path: Path, background: Start, collected: Collected
) -> None:
    clock = SystemClock()
    async with pty_pair(tmp_path) as pair:
        config = SerialScanner(
            kind="serial",
            name="desk-1",
            station="vaccination-1",
            port=str(pair.b),
            max_line=64,
            rate_per_s=50,
            burst=5,
            backoff_initial_s=0.05,
            backoff_max_s=0.1,
        )
        driver = SerialScannerDriver(config, collected.scan, clock)
        background(driver.run())
        await eventually(lambda: driver.health.connected)
        writer = PtyWriter(pair.a)
        writer.write(GS1 + b"\r" + b"ABC\r\n" + b"\xc3\x28bad-utf8\n" + b"X" * 100 + b"\r\nZ\n")
        await eventually(lambda: len(collected.scans) == 4)
        assert [scan.raw for scan in collected.scans] == [GS1, b"ABC", b"\xc3\x28bad-utf8", b"Z"]
        first = collected.scans[0]
        assert (first.scanner, first.station, first.symbology) == ("desk-1", "vaccination-1", "]d2")
        assert driver.health.refused == 1
        # a flood: 200 scans at once, only the burst gets through
        writer.write(b"".join(b"F%03d\r" % i for i in range(200)))
        await eventually(lambda: driver.health.scans + driver.health.flood_dropped >= 204)
        assert driver.health.flood_dropped >= 150
        writer.close()
    await eventually(lambda: driver.health.error is not None)
    await asyncio.sleep(0)
