"""Readings, identities and waiting helpers for the forwarder tests."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.core.clock import SystemClock
from gateway.forward.tags import Identity, ProbeTags
from probes.reading import ProbeStatus, Reading

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
UNIT = "3301020001"
GATEWAY = "10001"
BASE_TOPIC = f"coldchain/{UNIT}/{GATEWAY}"

IDENTITY = Identity(
    UNIT,
    GATEWAY,
    {
        "P0": ProbeTags("F1", "冷藏室", "refrigerated"),
        "P1": ProbeTags("F1", "upper shelf, left", "refrigerated"),
        "P2": ProbeTags("F2", "a=b\\c", "frozen"),
        "P3": ProbeTags("F2", "冷冻室", "frozen"),
    },
)


def reading(index: int, probes: int = 4, every_s: float = 60.0) -> Reading:
    """Reading number `index`: round robin over P0..P{probes-1}, one round every `every_s`;
    every 13th is a disconnected probe (status only)."""
    probe = f"P{index % probes}"
    taken_at = T0 + timedelta(seconds=every_s * (index // probes))
    if index % 13 == 12:
        return Reading(probe, taken_at, ProbeStatus.DISCONNECTED)
    return Reading(probe, taken_at, ProbeStatus.OK, 2.0 + (index % 70) / 10, 55.0, 3.0)


def readings(start: int, count: int, probes: int = 4, every_s: float = 60.0) -> list[Reading]:
    return [reading(index, probes, every_s) for index in range(start, start + count)]


def key(item: Reading) -> tuple[str, int]:
    """(probe, ms) — the identity of a point on the server."""
    from gateway.storage.readings import to_millis

    return item.probe, to_millis(item.taken_at)


async def wait_until(
    predicate: Callable[[], bool],
    timeout: float = 20.0,  # noqa: ASYNC109 - a polling helper with its own deadline
    every: float = 0.05,
) -> None:
    """Wait for `predicate`; fails the test on timeout."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(every)


class RecordingClock(SystemClock):
    """Real time, but every sleep is recorded and cut to at most `cap` seconds."""

    def __init__(self, cap: float = 0.02) -> None:
        self.sleeps: list[float] = []
        self._cap = cap

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(min(max(seconds, 0.0), self._cap))


def hashed_folder(folder: Path, *certificates: Path) -> Path:
    """A CA folder as the system's (Debian's /etc/ssl/certs): the CAs under their hashed names."""
    folder.mkdir()
    for index, certificate in enumerate(certificates):
        shutil.copy(certificate, folder / f"ca{index}.pem")
    subprocess.run(["openssl", "rehash", str(folder)], check=True, capture_output=True, timeout=60)
    return folder
