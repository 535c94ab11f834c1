"""Typed app keys: how the handlers reach the running gateway's services, one key per service.

The runtime's factory puts each configured service under its key (`gateway.web.app.build_app`);
a handler takes `request.app[KEY]` for what every gateway has and `request.app.get(KEY)` for
what the configuration may leave out (alarms, the ledger's jobs, the disk budget). There is no
catch-all context: what a handler reads is what its keys say.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.alarms.engine import AlarmService
    from gateway.commissioning.desk import CommissioningDesk
    from gateway.core.clock import Clock
    from gateway.forward.alarm_events import AlarmEventLane
    from gateway.forward.event_lane import EventLane
    from gateway.forward.exposure_events import ExposureEvent
    from gateway.forward.pump import Pump
    from gateway.ledgers.excursion_service import ExcursionService
    from gateway.ledgers.tasks import LedgerJobs
    from gateway.readings.clock_sync import ClockSync
    from gateway.readings.recorder import Recorder
    from gateway.readings.sources import Driver
    from gateway.storage.disk_budget import DiskBudget
    from gateway.storage.readings import ReadingStore
    from probes.modbus import ModbusBusDriver


class SettingsInForce:
    """The settings the handlers read: those of the last reload applied in place."""

    name = "web"

    def __init__(self, settings: Settings) -> None:
        self.current = settings

    async def reconfigure(self, settings: Settings) -> None:
        self.current = settings


class Drivers(Protocol):
    """The running drivers: the polled buses and the other sources."""

    def buses(self) -> list[ModbusBusDriver]: ...

    def sources(self) -> list[Driver]: ...


class Forwarding(Protocol):
    """The forwarders' pumps and their event lanes (none without a server configured)."""

    @property
    def pumps(self) -> Sequence[Pump]: ...

    @property
    def alarm_lanes(self) -> Sequence[AlarmEventLane]: ...

    @property
    def exposure_lanes(self) -> Sequence[EventLane[ExposureEvent]]: ...


SETTINGS = web.AppKey("settings", SettingsInForce)
STARTED_AT = web.AppKey("started_at", datetime)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
CLOCK_SYNC: web.AppKey[ClockSync] = web.AppKey("clock_sync")
READINGS: web.AppKey[ReadingStore] = web.AppKey("readings")
RECORDER: web.AppKey[Recorder] = web.AppKey("recorder")
DRIVERS: web.AppKey[Drivers] = web.AppKey("drivers")
FORWARDING: web.AppKey[Forwarding] = web.AppKey("forwarding")
DISK_BUDGET: web.AppKey[DiskBudget] = web.AppKey("disk_budget")
ALARMS: web.AppKey[AlarmService] = web.AppKey("alarms")
EXCURSIONS: web.AppKey[ExcursionService] = web.AppKey("excursion_service")
LEDGER_JOBS: web.AppKey[LedgerJobs] = web.AppKey("ledger_jobs")
COMMISSIONING: web.AppKey[CommissioningDesk] = web.AppKey("commissioning")


def settings_of(request: web.Request) -> Settings:
    """The settings in force for this request."""
    return request.app[SETTINGS].current
