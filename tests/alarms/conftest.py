"""A clinic with one refrigerated and one frozen compartment, three tiers, and a harness that
runs the real recorder, reading store and alarm service on a FakeClock in a temp folder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest_asyncio

from alerts.channels.base import DeliveryResult, Notification, delivered, retry_later
from alerts.channels.console import Console
from alerts.model import ChannelKind
from gateway.alarms.engine import AlarmService
from gateway.alarms.feeds import BusDriver
from gateway.core.clock import FakeClock
from gateway.readings.recorder import Recorder
from gateway.settings import Settings, parse_settings
from gateway.storage.readings import ReadingStore
from probes.reading import ProbeStatus, Reading

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
UNIT = "6101030203"
SECRET = "s" * 40
PROBE = "208601"
FROZEN_PROBE = "208602"


def people() -> list[dict[str, Any]]:
    return [
        {"id": "wang", "name": "王芳", "phone": "+8613800000001", "wecom_userid": "WangFang"},
        {"id": "li", "name": "李强", "phone": "+8613800000002", "wechat_openid": "o-li"},
        {"id": "zhao", "name": "赵敏", "phone": "+8613800000003"},
    ]


def alerts_section(channels: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "people": people(),
        "tiers": {
            "tier1": {"people": ["wang"]},
            "tier2": {"people": ["li"]},
            "tier3": {"people": ["zhao"]},
        },
        "channels": dict(
            channels or {"wecom_robot": {"key": "robot-key", "base_url": "http://127.0.0.1:9"}}
        ),
        "ack": {"secret": SECRET, "base_url": "http://127.0.0.1:8080"},
    }
    return section | extra


def clinic(
    data_dir: Path,
    alerts: dict[str, Any] | None = None,
    *,
    port: int = 5020,
    poll_s: float = 60.0,
) -> Settings:
    data: dict[str, Any] = {
        "unit": {"code": UNIT, "name": "测试门诊", "region_code": "610102"},
        "gateway": {"number": "10001", "data_dir": str(data_dir)},
        "store": {"flush_interval_s": 1.0},
        "buses": [{"name": "sim", "transport": "tcp", "host": "127.0.0.1", "port": port}],
        "fridges": [
            {
                "code": "F1",
                "name": "1号冰箱",
                "kind": "refrigerator",
                "compartments": [
                    {"name": "冷藏", "kind": "refrigerated"},
                    {"name": "冷冻", "kind": "frozen"},
                ],
            }
        ],
        "probes": [
            {
                "code": PROBE,
                "bus": "sim",
                "device_id": 1,
                "profile": "rs485-th",
                "compartment": "F1/冷藏",
                "poll_interval_s": poll_s,
            },
            {
                "code": FROZEN_PROBE,
                "bus": "sim",
                "device_id": 2,
                "profile": "pt100",
                "compartment": "F1/冷冻",
                "poll_interval_s": poll_s,
            },
        ],
        "alerts": alerts if alerts is not None else alerts_section(),
    }
    return parse_settings(data, "test")


@dataclass
class Recording:
    """A channel that records what it was handed; `down` makes it answer "retry later"."""

    kind: ChannelKind
    clock: FakeClock
    sent: list[tuple[datetime, Notification]] = field(default_factory=list)
    down: bool = False
    calls: int = 0

    async def send(self, notification: Notification) -> DeliveryResult:
        self.calls += 1
        if self.down:
            return retry_later("connection refused (test)")
        self.sent.append((self.clock.now(), notification))
        return delivered("ok")

    async def aclose(self) -> None:
        return None


async def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    """Wait in real time (I/O on loopback) for something; fail naming it."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


class Harness:
    """ReadingStore + Recorder + AlarmService on one FakeClock; tasks started and stopped
    explicitly, so a test can stop the service and start a new one on the same folder."""

    def __init__(
        self,
        settings: Settings,
        clock: FakeClock,
        channels: Mapping[ChannelKind, Any] | None = None,
        drivers: Sequence[BusDriver] = (),
        *,
        real_channels: bool = False,
        **service_options: Any,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.data_dir = settings.gateway.data_dir
        self.readings = ReadingStore(self.data_dir / "readings.sqlite3")
        self.recorder = Recorder(self.readings, clock, settings.store)
        self.robot = Recording(ChannelKind.WECOM_ROBOT, clock)
        self.channels: dict[ChannelKind, Any] | None = (
            None
            if real_channels
            else dict(channels)
            if channels is not None
            else {ChannelKind.WECOM_ROBOT: self.robot, ChannelKind.CONSOLE: Console()}
        )
        self.drivers = list(drivers)
        self.options = service_options
        self.service: AlarmService | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._service_task: asyncio.Task[None] | None = None

    @property
    def alarms(self) -> AlarmService:
        assert self.service is not None, "start the service first"
        return self.service

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self.recorder.run(), name="recorder"))
        await self.start_service()

    def start_task(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        return asyncio.create_task(coro, name=name)

    async def stop_task(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        (result,) = await asyncio.gather(task, return_exceptions=True)
        assert isinstance(result, asyncio.CancelledError), result

    async def start_service(self) -> None:
        self.service = AlarmService(
            self.settings,
            self.clock,
            self.data_dir,
            self.recorder,
            lambda: self.drivers,
            readings=self.readings,
            channels=self.channels,
            **self.options,
        )
        self._service_task = asyncio.create_task(self.service.run(), name="alarms")
        await wait_until(lambda: self.alarms.started, "the alarm service to start")

    async def stop_service(self) -> None:
        task, self._service_task = self._service_task, None
        if task is not None:
            task.cancel()
            results = await asyncio.gather(task, return_exceptions=True)
            assert isinstance(results[0], asyncio.CancelledError), results
        if self.service is not None:
            self.service.close()
            self.service = None

    async def stop(self) -> None:
        await self.stop_service()
        for task in self._tasks:
            task.cancel()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.readings.close()
        for result in results:
            assert isinstance(result, asyncio.CancelledError), result

    async def reading(self, temperature: float | None, probe: str = PROBE) -> None:
        status = ProbeStatus.OK if temperature is not None else ProbeStatus.DISCONNECTED
        await self.recorder.put(Reading(probe, self.clock.now(), status, temperature))

    async def minutes(
        self, count: int, temperature: float | None, *, frozen: float | None = -20.0
    ) -> None:
        """`count` minutes with one reading a minute from each probe, then the commit."""
        for _ in range(count):
            await self.reading(temperature)
            if frozen is not None:
                await self.reading(frozen, FROZEN_PROBE)
            await self.clock.advance(60)

    def minute(self) -> float:
        return (self.clock.now() - T0) / timedelta(minutes=1)

    def robot_log(self) -> list[tuple[float, str, str]]:
        """(minute, person, first line of the message) of every robot delivery."""
        return [
            (round((at - T0) / timedelta(minutes=1), 1), n.person.id, n.message.text.split("\n")[0])
            for at, n in self.robot.sent
        ]


@pytest_asyncio.fixture
async def clock() -> FakeClock:
    return FakeClock(T0)


@pytest_asyncio.fixture
async def harness(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    h = Harness(clinic(tmp_path / "data"), clock)
    await h.start()
    try:
        yield h
    finally:
        await h.stop()
