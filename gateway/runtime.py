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
from typing import TYPE_CHECKING

from aiohttp import web

from analysis.schedule import run_monthly_reports
from gateway.api import GatewayContext, build_app
from gateway.clock import Clock
from gateway.errors import GatewayError
from gateway.recorder import Recorder, run_retention
from gateway.settings import Settings, load_settings
from gateway.sources import ClockSync, open_sources
from gateway.store import ReadingStore
from probes.modbus import ModbusBusDriver, devices_on_bus
from probes.time_integrity import flag_unsynced, kernel_clock_synced

if TYPE_CHECKING:
    from gateway.alarms.engine import AlarmService
    from gateway.disk_budget import DiskBudget, DiskBudgetSettings
    from gateway.forward.alarm_events import AlarmEvent, AlarmEventLane, Deliver
    from gateway.forward.mqtt import Command
    from gateway.forward.pump import Pump

log = logging.getLogger(__name__)

STORE_FILE = "readings.sqlite3"
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
async def serve_http(app: web.Application, host: str, port: int) -> AsyncIterator[Listening]:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, shutdown_timeout=1.0)
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


class Gateway:
    """Runs drivers, recorder, alarms, forwarders and API for one configuration until `stop`.

    A `reload` command (MQTT) validates the configuration file again; if it is valid the
    gateway stops its tasks in order and `run` returns with `reloaded` set, for the caller to
    start again with the new settings.
    """

    def __init__(self, settings: Settings, clock: Clock, config_path: Path | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.config_path = config_path
        self.reloaded: Settings | None = None
        self.listening: asyncio.Future[Listening] = asyncio.get_running_loop().create_future()
        self._restart = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.settings
        data_dir = settings.gateway.data_dir
        async with contextlib.AsyncExitStack() as resources:
            store = resources.enter_context(
                ReadingStore(data_dir / STORE_FILE, synchronous=settings.store.synchronous)
            )
            recorder = Recorder(store, self.clock, settings.store)
            sync = ClockSync(kernel_clock_synced())
            emit = flag_unsynced(recorder.put, sync)
            drivers = [
                ModbusBusDriver(bus, devices, emit, self.clock)
                for bus in settings.buses
                if (devices := devices_on_bus(settings, bus.name))
            ]
            alarms = None
            listeners = []
            if settings.alerts is not None:
                from gateway.alarms.engine import AlarmService
                from gateway.alarms.presence import presence_listener

                alarms = resources.enter_context(
                    AlarmService(settings, self.clock, data_dir, recorder, drivers, readings=store)
                )
                listeners.append(presence_listener(alarms, settings.unit.code))
            sources = open_sources(
                settings, self.clock, emit, sync, resources, scan_listeners=listeners
            )
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
            )
            await self._open_forwarders(context, resources)
            if settings.store.disk_budget is not None:
                context.disk_budget = self._disk_budget(context, settings.store.disk_budget)
                resources.callback(context.disk_budget.close)
            http = settings.http
            async with serve_http(build_app(context), http.host, http.port) as listening:
                if not self.listening.done():
                    self.listening.set_result(listening)
                await self._supervise(stop, context)

    async def _open_forwarders(
        self, context: GatewayContext, resources: contextlib.AsyncExitStack
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
        if settings.mqtt is not None:
            from gateway.forward.mqtt import MqttForwarder

            mqtt = MqttForwarder(
                settings.mqtt,
                identity,
                context.store,
                self.clock,
                recorder=context.recorder,
                commands=self._commands(context),
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
        from gateway.disk_budget import DiskBudget

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

    def _commands(self, context: GatewayContext) -> dict[str, Command]:
        """Commands the county side may send over MQTT, beside the built-in `ping`."""

        async def reload(request: dict[str, object]) -> dict[str, object]:
            if self.config_path is None:
                raise GatewayError(
                    "this gateway runs without a configuration file (demo); fix: restart it"
                )
            self.reloaded = load_settings(self.config_path)
            self._restart.set()
            return {"ok": True, "detail": f"restarting with {self.config_path}"}

        async def ack(request: dict[str, object]) -> dict[str, object]:
            if context.alarms is None:
                raise GatewayError("alarms are not configured on this gateway; fix: add [alerts]")
            alarm, person = request.get("alarm"), request.get("person")
            if not isinstance(alarm, str | int) or not isinstance(person, str):
                raise GatewayError('ack needs "alarm" (number or id) and "person" (a tier\'s id)')
            unit = request.get("unit")
            transitions = context.alarms.acknowledge(
                str(alarm), person, "mqtt", unit=unit if isinstance(unit, str) else None
            )
            return {"ok": True, "transitions": len(transitions)}

        return {"reload": reload, "ack": ack}

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
            polling = [
                group.create_task(driver.run(), name=f"bus:{driver.name}")
                for driver in context.drivers
            ]
            polling += [
                group.create_task(source.run(), name=f"source:{source.name}")
                for source in context.sources.drivers
            ]
            background.append(
                group.create_task(context.clock_sync.watch(self.clock), name="clock-sync")
            )
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
            await _first_of(stop, self._restart)
            log.info("stopping: drivers first, then flushing the store")
            for stage in (polling, background, [recording], alarming):
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
