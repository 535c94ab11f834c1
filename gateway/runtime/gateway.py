"""The supervisor: one TaskGroup of named tasks, started in order and stopped in reverse.

Shutdown order matters for "nothing measured is lost": drivers stop first, the recorder flushes
everything still queued, alarms evaluate it, forwarders get a moment to send it, then the stores
and the web server close.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gateway.auth.acting import Acting
from gateway.clock_sync import READINGS, ClockSync
from gateway.core.clock import Clock
from gateway.core.errors import GatewayError
from gateway.hot_reload import (
    DriverTasks,
    build_driver,
    driver_specs,
    plan_reload,
    restart_task,
    summary,
)
from gateway.ops.watchdog import Notifier, ping_interval, run_watchdog
from gateway.recorder import Recorder, run_retention
from gateway.reports.schedule import run_monthly_reports
from gateway.settings import Settings, load_settings
from gateway.sources import Emit, open_sources
from gateway.storage import registry
from gateway.storage.checks import ChecksStore
from gateway.storage.readings import ReadingStore
from gateway.web.app import GatewayContext, build_app
from gateway.web.auth_middleware import open_web_auth
from gateway.web.connections import (
    CONNECTION_GUARD,
    ConnectionGuard,
    ConnectionLimits,
    GuardedSite,
    raise_file_limit,
)
from probes.modbus import ModbusBusDriver, devices_on_bus
from probes.settings import ModbusProbe
from probes.time_integrity import flag_unsynced

if TYPE_CHECKING:
    from gateway.alarms.engine import AlarmService
    from gateway.commissioning.desk import CommissioningDesk
    from gateway.forward.alarm_events import AlarmEvent, AlarmEventLane, Deliver
    from gateway.forward.mqtt import Command
    from gateway.forward.pump import Pump
    from gateway.ledgers.book import LedgerBook
    from gateway.ledgers.excursion_service import ExcursionService
    from gateway.ledgers.tasks import LedgerJobs
    from gateway.storage.disk_budget import DiskBudget, DiskBudgetSettings

log = logging.getLogger(__name__)

# The clinic's own monthly cold-chain report, written on the 1st (YYYY-MM/ below it).
REPORTS_DIR = "reports"
# Seconds a clean stop waits for healthy forwarders to send the last committed readings.
DRAIN_S = 2.0


@dataclass(frozen=True, slots=True)
class Listening:
    """Where the running gateway can be reached."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


@contextlib.asynccontextmanager
async def serve_http(
    app: web.Application, host: str, port: int, limits: ConnectionLimits | None = None
) -> AsyncIterator[Listening]:
    guard = ConnectionGuard(limits or ConnectionLimits(), raise_file_limit())
    app[CONNECTION_GUARD] = guard
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = GuardedSite(runner, host, port, guard)
        try:
            await site.start()
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise GatewayError(
                    f"HTTP port {host}:{port} is already in use: choose another with "
                    "--http-port (0 picks a free one) or [http] port"
                ) from None
            raise GatewayError(f"cannot listen on {host}:{port}: {error.strerror}") from None
        bound_host, bound_port = runner.addresses[0][:2]
        yield Listening(bound_host, bound_port)
    finally:
        await runner.cleanup()


@dataclass(slots=True)
class _Live:
    """The running supervisor's parts that `Gateway.apply` changes."""

    group: asyncio.TaskGroup
    context: GatewayContext
    drivers: DriverTasks
    background: list[asyncio.Task[Any]]


class Gateway:
    """Runs drivers, recorder, alarms, forwarders and API for one configuration until `stop`.

    A `reload` command (MQTT) or a commissioning form hands new settings to `apply`: a change
    of buses, probes and fridges restarts only the drivers it concerns (see `gateway.hot_reload`);
    any other change stops the tasks in order and `run` returns with `reloaded` set, for the
    caller to start again with the new settings.
    """

    def __init__(self, settings: Settings, clock: Clock, config_path: Path | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.config_path = config_path
        self.reloaded: Settings | None = None
        self.listening: asyncio.Future[Listening] = asyncio.get_running_loop().create_future()
        self._restart = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._live: _Live | None = None
        self._emit: Emit | None = None
        self._notifier = Notifier.from_environ()

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.settings
        data_dir = settings.gateway.data_dir
        async with contextlib.AsyncExitStack() as resources:
            resources.callback(self._notifier.close)
            store = resources.enter_context(
                ReadingStore(
                    data_dir / registry.READINGS.file, synchronous=settings.store.synchronous
                )
            )
            recorder = Recorder(store, self.clock, settings.store)
            sync = ClockSync(self.clock)
            sync.track(READINGS, store)
            emit = flag_unsynced(recorder.put, sync)
            self._emit = emit
            drivers = [
                ModbusBusDriver(bus, devices, emit, self.clock)
                for bus in settings.buses
                if (
                    devices := devices_on_bus(
                        settings.probes_of(ModbusProbe), settings.all_profiles(), bus.name
                    )
                )
            ]
            auth = open_web_auth(settings, self.clock, resources)
            acting = Acting(
                auth.accounts,
                settings.station_accounts,
                settings.mqtt.command_account if settings.mqtt else None,
            )
            alarms = None
            listeners = []
            if settings.alerts is not None:
                from gateway.alarms.engine import AlarmService
                from gateway.alarms.presence import presence_listener

                alarms = resources.enter_context(
                    AlarmService(settings, self.clock, data_dir, recorder, drivers, readings=store)
                )
                listeners.append(presence_listener(alarms, settings.unit.code, acting.for_scan))
            ledger, excursions, ledger_jobs = self._open_ledger(store, alarms, acting, resources)
            if ledger_jobs is not None:
                listeners.append(ledger_jobs.scans)
            for problem in acting.problems(ledger_jobs.scans.needs() if ledger_jobs else {}):
                log.warning("%s", problem)
            sources = open_sources(
                settings, self.clock, emit, sync, resources, scan_listeners=listeners
            )
            if ledger_jobs is not None:
                ledger_jobs.scans.catch_up(sources.scan_store)
            context = GatewayContext(
                settings,
                self.clock,
                store,
                recorder,
                drivers,
                sources,
                sync,
                self.clock.now(),
                alarms=alarms,
                ledger=ledger,
                ledger_jobs=ledger_jobs,
                excursions=excursions,
                auth=auth,
            )
            context.commissioning = self._commissioning(recorder, resources)
            context.checks = resources.enter_context(
                ChecksStore(
                    data_dir / registry.CHECKS.file,
                    self.clock.now(),
                    synchronous=settings.store.synchronous,
                )
            )
            await self._open_forwarders(context, acting, resources)
            for pump in context.forwarders:
                pump.hold_for_time_correction(sync)
            if settings.store.disk_budget is not None:
                context.disk_budget = self._disk_budget(context, settings.store.disk_budget)
                resources.callback(context.disk_budget.close)
            http = settings.http
            limits = ConnectionLimits(
                http.idle_timeout_s,
                http.header_timeout_s,
                http.body_timeout_s,
                http.max_connections_per_address,
                http.max_connections,
            )
            app = build_app(context)
            async with serve_http(app, http.host, http.port, limits) as listening:
                if not self.listening.done():
                    self.listening.set_result(listening)
                self._notifier.ready(f"serving on {listening.url}")
                await self._supervise(stop, context)

    def _open_ledger(
        self,
        store: ReadingStore,
        alarms: AlarmService | None,
        acting: Acting,
        resources: contextlib.AsyncExitStack,
    ) -> tuple[LedgerBook | None, ExcursionService | None, LedgerJobs | None]:
        """With a `[ledger]`: the ledgers, the excursion service over them and the readings,
        and the ledger's tasks (uploads, daily jobs, scan stations placing into compartments
        through the excursion service's stock locations)."""
        settings = self.settings
        if settings.ledger is None:
            return None, None, None
        from gateway.ledgers.book import open_configured
        from gateway.ledgers.excursion_service import open_excursions
        from gateway.ledgers.tasks import LedgerJobs

        ledger = open_configured(
            settings.ledger, settings.gateway.data_dir, self.clock, unit_code=settings.unit.code
        )
        resources.callback(ledger.close)
        excursions = open_excursions(
            settings, self.clock, ledger, store, alarms=alarms, config_path=self.config_path
        )
        jobs = LedgerJobs(
            ledger, settings, self.clock, alarms, acting.for_scan, locations=excursions.locations
        )
        return ledger, excursions, jobs

    async def _open_forwarders(
        self, context: GatewayContext, acting: Acting, resources: contextlib.AsyncExitStack
    ) -> None:
        """Import and open a forwarder only when the configuration names its server; with
        alarms configured, each server also gets the alarm events."""
        settings = self.settings
        if settings.influx is None and settings.mqtt is None:
            return
        from gateway.forward.tags import identity_from_settings

        identity = identity_from_settings(settings)
        alarms = context.alarms
        if settings.influx is not None:
            from gateway.forward.influx import make_sink, open_influx_forwarder

            pump = await resources.enter_async_context(
                open_influx_forwarder(
                    settings.influx, identity, context.store, self.clock, recorder=context.recorder
                )
            )
            context.forwarders.append(pump)
            if alarms is not None:
                from gateway.forward.alarm_events import alarm_event_line
                from gateway.forward.line_protocol import LineEncoder

                sink = make_sink(settings.influx, LineEncoder(identity))
                resources.push_async_callback(sink.close)

                async def to_influx(events: Sequence[AlarmEvent]) -> None:
                    body = "\n".join(alarm_event_line(event, identity) for event in events)
                    await sink.send_body(body.encode())

                context.alarm_lanes.append(self._alarm_lane("influx", alarms, to_influx))
            if context.excursions is not None:
                from gateway.forward.exposure_events import exposure_lane
                from gateway.forward.line_protocol import LineEncoder

                exposure_sink = make_sink(settings.influx, LineEncoder(identity))
                resources.push_async_callback(exposure_sink.close)
                context.exposure_lanes.append(
                    exposure_lane(
                        "influx",
                        context.excursions.exposures,
                        exposure_sink.send_body,
                        identity,
                        self.clock,
                    )
                )
        if settings.mqtt is not None:
            from gateway.forward.mqtt import MqttForwarder

            mqtt = MqttForwarder(
                settings.mqtt,
                identity,
                context.store,
                self.clock,
                recorder=context.recorder,
                commands=self._commands(context, acting),
            )
            context.mqtt = mqtt
            context.forwarders.append(mqtt.pump)
            if alarms is not None:
                from gateway.forward.errors import RetryableError

                async def to_mqtt(events: Sequence[AlarmEvent]) -> None:
                    for event in events:
                        if not await mqtt.publish_alarm(event.as_json(identity)):
                            raise RetryableError("MQTT broker: alarm event not acknowledged")

                context.alarm_lanes.append(self._alarm_lane("mqtt", alarms, to_mqtt))

    def _alarm_lane(self, name: str, alarms: AlarmService, deliver: Deliver) -> AlarmEventLane:
        from gateway.forward.alarm_events import AlarmEventLane

        return AlarmEventLane(name, alarms.store, deliver, self.clock)

    def _disk_budget(self, context: GatewayContext, budget: DiskBudgetSettings) -> DiskBudget:
        from gateway.storage.disk_budget import DiskBudget

        ranges = {}
        for probe in self.settings.probes:
            _, compartment = self.settings.compartment(probe.compartment)
            ranges[probe.code] = (compartment.min_c, compartment.max_c)
        return DiskBudget(
            context.store.path,
            budget,
            self.clock,
            ranges=ranges,
            forwarders=[pump.name for pump in context.forwarders],
        )

    async def apply(self, settings: Settings) -> str:
        """Run with `settings` from now on: in place when only buses, probes and fridges
        changed, else by restarting the gateway. Returns what was done, for the log and for
        the technician."""
        async with self._reload_lock:
            plan = plan_reload(self.settings, settings)
            live, emit = self._live, self._emit
            if live is None or emit is None or plan.restart_reason is not None:
                self.reloaded = settings
                self._restart.set()
                return f"restarting the gateway ({plan.restart_reason or 'it is not running'})"
            await live.drivers.stop(plan.stop)
            for key in sorted(plan.start):
                live.drivers.start(build_driver(key, settings, emit, self.clock), key)
            context = live.context
            context.drivers[:] = live.drivers.bus_drivers()
            context.sources.drivers[:] = live.drivers.source_drivers()
            self.settings = context.settings = settings
            if context.alarms is not None:
                if plan.probes_changed:
                    context.alarms.reconfigure(settings, context.drivers)
                else:
                    context.alarms.watch_links(context.drivers)
            if plan.probes_changed:
                if context.excursions is not None:
                    context.excursions.settings = settings
                await restart_task(
                    live.group,
                    live.background,
                    "monthly-report",
                    lambda: run_monthly_reports(
                        settings, self.clock, settings.gateway.data_dir / REPORTS_DIR
                    ),
                )
            detail = summary(plan, driver_specs(settings))
            log.info("configuration: %s", detail)
            return detail

    def _commissioning(
        self, recorder: Recorder, resources: contextlib.AsyncExitStack
    ) -> CommissioningDesk:
        from gateway.commissioning.desk import CommissioningDesk
        from gateway.storage.commissioning import CommissioningLog

        settings = self.settings
        audit = resources.enter_context(
            CommissioningLog(
                settings.gateway.data_dir / registry.COMMISSIONING.file,
                synchronous=settings.store.synchronous,
            )
        )
        return CommissioningDesk(
            self.config_path,
            audit,
            self.clock,
            latest=lambda: recorder.latest,
            apply=self.apply,
            hold_bus=self.holding_bus,
        )

    @contextlib.asynccontextmanager
    async def holding_bus(self, name: str) -> AsyncIterator[None]:
        """Stop polling bus `name` for the block (a discovery scan needs its serial port),
        then poll it again with the settings of that moment.

        The line is left quiet for the bus's timeout first (real seconds: it is the wire's
        time), so that a late reply to the last poll cannot be taken for the scan's.
        """
        key = f"bus:{name}"
        async with self._reload_lock:
            live, emit = self._live, self._emit
            if live is None or emit is None:
                raise GatewayError("the gateway is not running; fix: try again in a moment")
            await live.drivers.hold(key)
        try:
            quiet = max(
                (bus.timeout_s for bus in self.settings.buses if bus.name == name), default=0
            )
            await asyncio.sleep(quiet)
            yield
        finally:
            async with self._reload_lock:
                live.drivers.release(key)
                if self._live is live and key in driver_specs(self.settings):
                    live.drivers.start(build_driver(key, self.settings, emit, self.clock), key)
                    live.context.drivers[:] = live.drivers.bus_drivers()
                    if live.context.alarms is not None:
                        live.context.alarms.watch_links(live.context.drivers)

    def _commands(self, context: GatewayContext, acting: Acting) -> dict[str, Command]:
        """Commands the county may send over MQTT, beside the built-in `ping`."""
        from gateway.commands import county_commands

        async def reload() -> str:
            if self.config_path is None:
                raise GatewayError(
                    "this gateway runs without a configuration file (demo); fix: restart it"
                )
            detail = await self.apply(load_settings(self.config_path))
            return f"{self.config_path}: {detail}"

        assert context.auth is not None, "the accounts and audit log open first"
        return county_commands(acting, context.alarms, reload, context.auth.audit)

    async def _supervise(self, stop: asyncio.Event, context: GatewayContext) -> None:
        """Run every task until `stop` (or a reload); then stop them stage by stage.

        Drivers stop first and the recorder flushes what they gave it; alarms then evaluate
        what was committed (or replay it at the next start); forwarders stop before the store
        closes, their cursors saved.
        """
        async with asyncio.TaskGroup() as group:
            recording = group.create_task(context.recorder.run(), name="recorder")
            background = [
                group.create_task(
                    run_retention(context.store, self.clock, self.settings.store.retention_days),
                    name="retention",
                )
            ]
            if context.disk_budget is not None:
                background.append(group.create_task(context.disk_budget.run(), name="disk-budget"))
            background.append(
                group.create_task(
                    run_monthly_reports(
                        self.settings, self.clock, self.settings.gateway.data_dir / REPORTS_DIR
                    ),
                    name="monthly-report",
                )
            )
            polling = DriverTasks(group)
            for driver in [*context.drivers, *context.sources.drivers]:
                polling.start(driver)
            background.append(group.create_task(context.clock_sync.watch(), name="clock-sync"))
            if (interval := ping_interval()) is not None:
                background.append(
                    group.create_task(
                        run_watchdog(
                            self._notifier,
                            self.clock,
                            interval,
                            lambda: (
                                f"running; {context.recorder.stats().written} reading(s) "
                                "stored since start"
                            ),
                        ),
                        name="watchdog",
                    )
                )
            if context.ledger_jobs is not None:
                background += [
                    group.create_task(job, name=name) for name, job in context.ledger_jobs.tasks()
                ]
            if context.excursions is not None:
                background.append(group.create_task(context.excursions.run(), name="excursions"))
            alarming = (
                [group.create_task(context.alarms.run(), name="alarms")]
                if context.alarms is not None
                else []
            )
            forwarding = [
                group.create_task(pump.run(), name=f"forward-{pump.name}")
                for pump in context.forwarders
                if context.mqtt is None or pump is not context.mqtt.pump
            ] + [
                group.create_task(lane.run(), name=f"alarm-events-{lane.name}")
                for lane in context.alarm_lanes
            ]
            forwarding += [
                group.create_task(lane.run(), name=f"exposure-events-{lane.name}")
                for lane in context.exposure_lanes
            ]
            if context.mqtt is not None:
                forwarding.append(group.create_task(context.mqtt.run(), name="forward-mqtt"))
            log.info(
                "gateway %s of unit %s running: %d probe(s) on %d bus(es), alarms %s, "
                "forwarding to %s",
                self.settings.gateway.number,
                self.settings.unit.code,
                len(self.settings.probes),
                len(context.drivers),
                "on" if context.alarms is not None else "off (no [alerts] section)",
                ", ".join(pump.target for pump in context.forwarders) or "nothing",
            )
            self._live = _Live(group, context, polling, background)
            await _first_of(stop, self._restart)
            if stop.is_set():
                self._notifier.stopping("stopping: flushing the store")
            else:
                self._notifier.reloading("reloading the configuration")
            log.info("stopping: drivers first, then flushing the store")
            async with self._reload_lock:
                self._live = None
            await polling.stop_all()
            for stage in (background, [recording], alarming):
                for task in stage:
                    task.cancel()
                await asyncio.gather(*stage, return_exceptions=True)
            await _drain(context.forwarders)
            for task in forwarding:
                task.cancel()
            await asyncio.gather(*forwarding, return_exceptions=True)
        log.info("stopped cleanly; last reading seq %d", context.store.last_seq())


async def _drain(pumps: list[Pump]) -> None:
    """Give forwarders that are keeping up a moment to send the last committed readings.

    A forwarder in trouble (failures, server down) is not waited for: what it has not sent stays
    in the store and goes at the next start. Real seconds, not clock seconds: this is part of
    the process's own shutdown budget (SIGTERM to exit within 5 s).
    """
    healthy = [pump for pump in pumps if pump.stats().failures == 0]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_S):
            while any(pump.stats().backlog for pump in healthy):  # noqa: ASYNC110 (polls a count)
                await asyncio.sleep(0.05)
    for pump in healthy:
        if left := pump.stats().backlog:
            log.info("forwarder %s: %d reading(s) left for the next start", pump.name, left)


async def _first_of(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(event.wait(), name="wait-stop") for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
