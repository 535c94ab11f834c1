"""The supervisor stops services stage by stage, lets a stage settle first, and stops a task
that swallowed a cancellation; a settings job starts again only when what it reads changed."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from gateway.runtime.service import Service, SettingsJob, Stage, Work
from gateway.runtime.supervisor import supervise
from gateway.settings import Settings, parse_settings

pytestmark = pytest.mark.asyncio


class Recorded(Service):
    """Runs until cancelled; writes when it settled and when it stopped into `events`."""

    def __init__(self, name: str, stage: Stage, events: list[str], swallow: int = 0) -> None:
        self.name = name
        self.stage = stage
        self._events = events
        self._swallow = swallow
        self.started = asyncio.Event()

    async def run(self) -> None:
        self.started.set()
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                if self._swallow:  # as asyncio.wait_for on Python 3.11 can do
                    self._swallow -= 1
                    continue
                self._events.append(f"stopped {self.name}")
                raise

    async def settle(self) -> None:
        self._events.append(f"settled {self.name}")


async def test_stages_stop_in_order_each_settled_first() -> None:
    events: list[str] = []
    services = [
        Recorded("forwarder", Stage.FORWARDERS, events),
        Recorded("alarms", Stage.ALARMS, events),
        Recorded("recorder", Stage.RECORDER, events),
        Recorded("drivers", Stage.DRIVERS, events, swallow=3),
        Recorded("retention", Stage.JOBS, events),
    ]

    async def until() -> None:
        for service in services:
            await service.started.wait()

    async with asyncio.timeout(5):
        await supervise(services, until)
    assert events == [
        "settled drivers",
        "stopped drivers",
        "settled retention",
        "stopped retention",
        "settled recorder",
        "stopped recorder",
        "settled alarms",
        "stopped alarms",
        "settled forwarder",
        "stopped forwarder",
    ]


def clinic(probe_interval: float) -> Settings:
    return parse_settings(
        {
            "unit": {"code": "6101030203", "name": "clinic", "region_code": "610102"},
            "gateway": {"number": "10001", "data_dir": "/nonexistent"},
            "buses": [{"name": "main", "transport": "tcp", "host": "127.0.0.1", "port": 1502}],
            "fridges": [
                {
                    "code": "F1",
                    "name": "fridge",
                    "kind": "refrigerator",
                    "compartments": [{"name": "冷藏", "kind": "refrigerated"}],
                }
            ],
            "probes": [
                {
                    "code": "P1",
                    "bus": "main",
                    "device_id": 1,
                    "channel": 0,
                    "profile": "logger-8ch",
                    "compartment": "F1/冷藏",
                    "poll_interval_s": probe_interval,
                }
            ],
        },
        "test",
    )


async def test_a_settings_job_starts_again_only_when_what_it_reads_changed() -> None:
    made: list[float] = []

    async def forever() -> None:
        await asyncio.Event().wait()

    def make(settings: Settings) -> Work:
        made.append(settings.probes[0].poll_interval_s)
        return forever()

    def reads(settings: Settings) -> object:
        return settings.probes

    job = SettingsJob("report", Stage.JOBS, make, clinic(1.0), reads)
    task = asyncio.create_task(job.run())
    try:
        await asyncio.sleep(0)
        await job.reconfigure(clinic(1.0).model_copy(update={"http": clinic(1.0).http}))
        await asyncio.sleep(0)
        await job.reconfigure(clinic(5.0))
        for _ in range(20):
            await asyncio.sleep(0)
        assert made == [1.0, 5.0]
        assert job.health() == {"restarts": 1}
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
