"""A real gateway process: SIGKILL at any moment loses at most the uncommitted batch, the store
always reopens clean, and SIGTERM flushes and exits 0 within 5 s."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from gateway.auth.policy import Role
from gateway.storage.readings import ReadingStore
from gateway.storage.registry import READINGS
from tests.e2e.support import Clinic, GatewayProcess
from tests.web_support import api_token

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


async def wait_for_readings(gateway: GatewayProcess, count: int) -> None:
    for _ in range(200):
        health = await gateway.get_json("/api/health")
        assert isinstance(health, dict)
        if health["store"]["readings_written"] >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} readings after 10 s: {health}")


def stored(data_dir: Path) -> tuple[str, list[int]]:
    with ReadingStore(data_dir / READINGS.file) as store:
        check = store.integrity_check()
        rows = store.readings_after(0, limit=1_000_000)
    return check, [row.seq for row in rows]


async def committed(gateway: GatewayProcess) -> int:
    """The sequence number of the last reading the gateway has committed to its store."""
    health = await gateway.get_json("/api/health")
    assert isinstance(health, dict)
    return int(health["store"]["last_seq"])


async def test_sigkill_at_random_moments_loses_at_most_the_open_batch(clinic: Clinic) -> None:
    rng = random.Random(20261124)
    previous_last = 0
    for _round in range(4):
        gateway = await GatewayProcess.start(clinic.config)
        await wait_for_readings(gateway, clinic.probes)
        await asyncio.sleep(rng.uniform(0.3, 1.5))
        last_committed = await committed(gateway)
        await gateway.kill()

        check, seqs = stored(clinic.data_dir)
        assert check == "ok"
        assert seqs == list(range(1, len(seqs) + 1)), "sequence numbers are contiguous"
        assert seqs[-1] > previous_last, "each run continued the sequence"
        assert seqs[-1] >= last_committed, "a reading committed before the kill was lost"
        previous_last = seqs[-1]


async def test_sigterm_flushes_and_exits_zero_within_five_seconds(clinic: Clinic) -> None:
    gateway = await GatewayProcess.start(clinic.config)
    await wait_for_readings(gateway, 3 * clinic.probes)
    health = await gateway.get_json("/api/health")
    assert isinstance(health, dict)
    assert health["probes_not_ok"] == [], health
    assert await gateway.terminate(within_s=5.0) == 0

    check, seqs = stored(clinic.data_dir)
    assert check == "ok"
    assert len(seqs) >= 3 * clinic.probes
    assert "stopped cleanly" in gateway.logged()


async def test_fridges_endpoint_shows_every_compartment(clinic: Clinic) -> None:
    token = api_token(clinic.data_dir, Role.COUNTY)
    gateway = await GatewayProcess.start(clinic.config, token=token)
    try:
        await wait_for_readings(gateway, clinic.probes)
        fridges = await gateway.get_json("/api/fridges")
        assert isinstance(fridges, list)
        assert len(fridges) == clinic.probes
        for compartment in fridges:
            assert compartment["status"] == "in_range"
            assert 2.0 <= compartment["temperature"] <= 8.0
        readings = await gateway.get_json("/api/readings?probe=P10&limit=5")
        assert isinstance(readings, dict)
        assert 1 <= len(readings["readings"]) <= 5
        assert {row["probe"] for row in readings["readings"]} == {"P10"}
    finally:
        await gateway.terminate(within_s=5.0)
