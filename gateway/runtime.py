"""The supervisor: one TaskGroup of named tasks, started in order and stopped in reverse.

Shutdown order matters for "nothing measured is lost": drivers stop first, then the recorder
flushes everything still queued, then the web server closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from gateway.api import GatewayContext, build_app
from gateway.clock import Clock
from gateway.errors import GatewayError
from gateway.recorder import Recorder, run_retention
from gateway.settings import Settings
from gateway.store import ReadingStore
from probes.modbus import ModbusBusDriver, devices_on_bus

log = logging.getLogger(__name__)

STORE_FILE = "readings.sqlite3"


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
    """Runs drivers, recorder and API for one configuration until `stop` is set."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.listening: asyncio.Future[Listening] = asyncio.get_running_loop().create_future()

    async def run(self, stop: asyncio.Event) -> None:
        data_dir = self.settings.gateway.data_dir
        with contextlib.ExitStack() as resources:
            store = resources.enter_context(
                ReadingStore(data_dir / STORE_FILE, synchronous=self.settings.store.synchronous)
            )
            recorder = Recorder(store, self.clock, self.settings.store)
            drivers = [
                ModbusBusDriver(bus, devices, recorder.put, self.clock)
                for bus in self.settings.buses
                if (devices := devices_on_bus(self.settings, bus.name))
            ]
            alarms = None
            if self.settings.alerts is not None:
                from gateway.alarms.engine import AlarmService

                alarms = resources.enter_context(
                    AlarmService(
                        self.settings, self.clock, data_dir, recorder, drivers, readings=store
                    )
                )
            context = GatewayContext(
                self.settings, self.clock, store, recorder, drivers, self.clock.now(), alarms
            )
            http = self.settings.http
            async with serve_http(build_app(context), http.host, http.port) as listening:
                self.listening.set_result(listening)
                await self._supervise(stop, context)

    async def _supervise(self, stop: asyncio.Event, context: GatewayContext) -> None:
        """Run every task until `stop`; then stop them stage by stage.

        Alarms stop last: readings committed but not yet evaluated are replayed at next start.
        """
        async with asyncio.TaskGroup() as group:
            recording = group.create_task(context.recorder.run(), name="recorder")
            retention = group.create_task(
                run_retention(context.store, self.clock, self.settings.store.retention_days),
                name="retention",
            )
            polling = [
                group.create_task(driver.run(), name=f"bus:{driver.name}")
                for driver in context.drivers
            ]
            alarming = (
                [group.create_task(context.alarms.run(), name="alarms")]
                if context.alarms is not None
                else []
            )
            log.info(
                "gateway %s of unit %s running: %d probe(s) on %d bus(es), alarms %s",
                self.settings.gateway.number,
                self.settings.unit.code,
                len(self.settings.probes),
                len(context.drivers),
                "on" if context.alarms is not None else "off (no [alerts] section)",
            )
            await stop.wait()
            log.info("stopping: drivers first, then flushing the store")
            for stage in (polling, [retention], [recording], alarming):
                for task in stage:
                    task.cancel()
                await asyncio.gather(*stage, return_exceptions=True)
        log.info("stopped cleanly; last reading seq %d", context.store.last_seq())


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
