"""The one factory: reads the settings and builds every service of the running gateway.

Drivers of every transport, the recorder, retention and the disk budget, the alarm service, the
ledgers' jobs and the excursions, the forwarders and their event lanes, the clock watch, the
systemd watchdog and the monthly report are services for the supervisor; the checks, the
commissioning desk and the web's view of the settings have no task but take a reload too.
Optional subsystems are imported only when the configuration uses them (memory on a Pi).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from gateway.auth.acting import Acting
from gateway.core.clock import Clock
from gateway.core.errors import GatewayError
from gateway.forward.tags import identity_from_settings
from gateway.ops.watchdog import Notifier, ping_interval, run_watchdog
from gateway.readings.clock_sync import READINGS, ClockSync
from gateway.readings.recorder import Recorder, run_retention
from gateway.readings.sources import open_sources
from gateway.reports.schedule import run_monthly_reports
from gateway.runtime.drivers import DriverFactory, DriverPool
from gateway.runtime.forwarders import Forwarders, open_forwarders
from gateway.runtime.hot_reload import PROBE_LIST
from gateway.runtime.ledger import open_ledger
from gateway.runtime.service import Job, Service, SettingsJob, Stage
from gateway.settings import Settings, load_settings
from gateway.storage import registry
from gateway.storage.checks import ChecksStore
from gateway.storage.readings import ReadingStore
from gateway.web.app import build_app
from gateway.web.auth_middleware import open_web_auth
from gateway.web.keys import SettingsInForce
from gateway.web.routes.checks_http import Checks
from probes.modbus import ModbusBusDriver
from probes.time_integrity import flag_unsynced

if TYPE_CHECKING:
    from gateway.alarms.engine import AlarmService
    from gateway.commissioning.desk import CommissioningDesk
    from gateway.forward.mqtt import Command
    from gateway.ledgers.book import LedgerBook
    from gateway.storage.audit_log import AuditLog
    from gateway.storage.disk_budget import DiskBudget
    from gateway.storage.scans import ScanListener

log = logging.getLogger(__name__)

# The clinic's own monthly cold-chain report, written on the 1st (YYYY-MM/ below it).
REPORTS_DIR = "reports"


class Reconfigurable(Protocol):
    """A part of the running gateway that takes the settings of a reload."""

    @property
    def name(self) -> str: ...

    async def reconfigure(self, settings: Settings) -> None: ...


class Control(Protocol):
    """What the services may ask of the gateway that runs them."""

    async def apply(self, settings: Settings) -> str: ...

    def holding_bus(self, name: str) -> contextlib.AbstractAsyncContextManager[None]: ...


@dataclass(slots=True)
class Built:
    """The services to run, the parts without a task that take a reload too, the driver pool
    (a discovery scan holds a bus), the web app over them all, and the handles the gateway
    itself (and its tests) look at."""

    services: list[Service]
    parts: list[Reconfigurable]
    drivers: DriverPool
    app: web.Application
    store: ReadingStore
    forwarders: Forwarders
    alarms: AlarmService | None = None
    disk_budget: DiskBudget | None = None

    def reconfigurable(self) -> list[Reconfigurable]:
        """Everything a reload reaches: the parts, then the services from the last stage to
        the first, so that a driver started for a new probe finds the rules ready for it."""
        ordered = sorted(self.services, key=lambda service: service.stage, reverse=True)
        return [*self.parts, *ordered]


def disk_ranges(settings: Settings) -> dict[str, tuple[float | None, float | None]]:
    """Each probe's compartment range, by which the disk budget tells excursions apart."""
    ranges = {}
    for probe in settings.probes:
        _, compartment = settings.compartment(probe.compartment)
        ranges[probe.code] = (compartment.min_c, compartment.max_c)
    return ranges


async def build(
    settings: Settings,
    clock: Clock,
    config_path: Path | None,
    resources: contextlib.AsyncExitStack,
    *,
    control: Control,
    notifier: Notifier,
) -> Built:
    """Open the stores and build every service of `settings`; `resources` closes them."""
    data_dir = settings.gateway.data_dir
    store = resources.enter_context(
        ReadingStore(data_dir / registry.READINGS.file, synchronous=settings.store.synchronous)
    )
    recorder = Recorder(store, clock, settings.store)
    sync = ClockSync(clock)
    sync.track(READINGS, store)
    auth = open_web_auth(settings, clock, resources)
    acting = Acting(
        auth.accounts,
        settings.station_accounts,
        settings.mqtt.command_account if settings.mqtt else None,
    )
    listeners: list[ScanListener] = []

    def running_buses() -> list[ModbusBusDriver]:
        """The alarms watch the links of the buses running at each tick."""
        return drivers.buses()

    alarms = _open_alarms(
        settings, clock, resources, recorder=recorder, store=store, links=running_buses
    )
    if alarms is not None:
        from gateway.alarms.presence import presence_listener

        listeners.append(presence_listener(alarms, settings.unit.code, acting.for_scan))
    ledger = open_ledger(
        settings,
        clock,
        resources,
        config_path=config_path,
        store=store,
        alarms=alarms,
        acting=acting,
    )
    if ledger.jobs is not None:
        listeners.append(ledger.jobs.scans)
    for problem in acting.problems(ledger.jobs.scans.needs() if ledger.jobs else {}):
        log.warning("%s", problem)
    sources = open_sources(settings, sync, resources, scan_listeners=listeners)
    if ledger.jobs is not None:
        ledger.jobs.scans.catch_up(sources.scan_store)
    emit = flag_unsynced(recorder.put, sync)
    drivers = DriverPool(settings, DriverFactory(emit, sources.record, clock, sync))
    checks = Checks(
        resources.enter_context(
            ChecksStore(
                data_dir / registry.CHECKS.file, clock.now(), synchronous=settings.store.synchronous
            )
        ),
        settings,
        store,
        clock,
    )
    identity = identity_from_settings(settings)
    forwarders = await open_forwarders(
        settings,
        identity,
        resources,
        store=store,
        recorder=recorder,
        clock=clock,
        alarms=alarms,
        excursions=ledger.excursions,
        commands=_county_commands(
            config_path, control, acting, alarms, auth.audit, book=ledger.book
        ),
    )
    for pump in forwarders.pumps:
        pump.hold_for_time_correction(sync)
    services: list[Service] = [
        drivers,
        Job("recorder", Stage.RECORDER, recorder.run, health=recorder.stats),
        Job(
            "retention",
            Stage.JOBS,
            lambda: run_retention(store, clock, settings.store.retention_days),
        ),
        Job("clock-sync", Stage.JOBS, sync.watch, health=sync.health),
        SettingsJob(
            "monthly-report",
            Stage.JOBS,
            lambda current: run_monthly_reports(current, clock, data_dir / REPORTS_DIR),
            settings,
            reads=lambda current: [getattr(current, name) for name in sorted(PROBE_LIST)],
        ),
        *forwarders.services,
    ]
    budget = None
    if settings.store.disk_budget is not None:
        from gateway.storage.disk_budget import DiskBudget

        budget = DiskBudget(
            store.path,
            settings.store.disk_budget,
            clock,
            ranges=disk_ranges(settings),
            forwarders=[pump.name for pump in forwarders.pumps],
        )
        resources.callback(budget.close)
        services.append(_disk_budget_job(budget))
    if (interval := ping_interval()) is not None:
        services.append(
            Job(
                "watchdog",
                Stage.JOBS,
                lambda: run_watchdog(
                    notifier,
                    clock,
                    interval,
                    lambda: f"running; {recorder.stats().written} reading(s) stored since start",
                ),
            )
        )
    if alarms is not None:
        services.append(
            Job(
                "alarms",
                Stage.ALARMS,
                alarms.run,
                on_reload=alarms.reconfigure,
                health=alarms.health,
            )
        )
    services += ledger.services()
    in_force = SettingsInForce(settings)
    app = build_app(
        settings=in_force,
        clock=clock,
        store=store,
        recorder=recorder,
        drivers=drivers,
        sources=sources,
        clock_sync=sync,
        auth=auth,
        started_at=clock.now(),
        checks=checks,
        forwarding=forwarders,
        alarms=alarms,
        ledger=ledger.book,
        ledger_jobs=ledger.jobs,
        excursions=ledger.excursions,
        disk_budget=budget,
        commissioning=_commissioning(
            settings, clock, resources, config_path=config_path, recorder=recorder, control=control
        ),
    )
    return Built(
        services,
        [in_force, checks],
        drivers,
        app,
        store,
        forwarders,
        alarms=alarms,
        disk_budget=budget,
    )


def _disk_budget_job(budget: DiskBudget) -> Job:
    """The disk budget's checks; a reload gives it the ranges of the probes as placed now."""
    return Job(
        "disk-budget",
        Stage.JOBS,
        budget.run,
        on_reload=lambda current: budget.place(disk_ranges(current)),
        health=budget.stats,
    )


def _open_alarms(
    settings: Settings,
    clock: Clock,
    resources: contextlib.AsyncExitStack,
    *,
    recorder: Recorder,
    store: ReadingStore,
    links: Callable[[], list[ModbusBusDriver]],
) -> AlarmService | None:
    if settings.alerts is None:
        return None
    from gateway.alarms.engine import AlarmService

    return resources.enter_context(
        AlarmService(settings, clock, settings.gateway.data_dir, recorder, links, readings=store)
    )


def _commissioning(
    settings: Settings,
    clock: Clock,
    resources: contextlib.AsyncExitStack,
    *,
    config_path: Path | None,
    recorder: Recorder,
    control: Control,
) -> CommissioningDesk:
    from gateway.commissioning.desk import CommissioningDesk
    from gateway.storage.commissioning import CommissioningLog

    audit = resources.enter_context(
        CommissioningLog(
            settings.gateway.data_dir / registry.COMMISSIONING.file,
            synchronous=settings.store.synchronous,
        )
    )
    return CommissioningDesk(
        config_path,
        audit,
        clock,
        latest=lambda: recorder.latest,
        apply=control.apply,
        hold_bus=control.holding_bus,
    )


def _county_commands(
    config_path: Path | None,
    control: Control,
    acting: Acting,
    alarms: AlarmService | None,
    audit: AuditLog,
    *,
    book: LedgerBook | None,
) -> dict[str, Command]:
    """The commands the county may send over MQTT (`gateway.forward.mqtt_commands`); `reload`
    applies the configuration file again, `approve` decides the clinic's stock requests."""
    from gateway.forward.mqtt_commands import county_commands

    async def reload() -> str:
        if config_path is None:
            raise GatewayError(
                "this gateway runs without a configuration file (demo); fix: restart it"
            )
        detail = await control.apply(load_settings(config_path))
        return f"{config_path}: {detail}"

    return county_commands(acting, alarms, reload, audit, ledger=book)
