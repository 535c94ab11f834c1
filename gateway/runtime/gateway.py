"""The running gateway: the factory's services under the supervisor, behind the web server.

A reload (the MQTT `reload` command, a commissioning form) hands the new settings to every
service and part: each applies what concerns it, and only the drivers whose settings changed
restart (`gateway.runtime.hot_reload` plans it). A change that cannot be applied in place (the
store, the servers, the unit...) stops the services in order and `run` returns with `reloaded`
set, for the caller to start again with the new settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from gateway.core.cancelling import first_of
from gateway.core.clock import Clock
from gateway.core.errors import GatewayError
from gateway.ops.watchdog import Notifier
from gateway.runtime.factory import Built, build
from gateway.runtime.hot_reload import driver_specs, plan_reload, summary
from gateway.runtime.http import Listening, serve_http, tls_context
from gateway.runtime.supervisor import supervise
from gateway.settings import Settings
from gateway.web.connections import ConnectionLimits

log = logging.getLogger(__name__)

#: Event-loop steps the services take before the gateway says it is listening: the supervisor
#: starts the driver pool, the pool starts the drivers, the drivers open their ports.
STARTING_STEPS = 3
#: Real seconds from SIGTERM to the end of the process (systemd's stop timeout is larger).
STOP_BUDGET_S = 4.5


class Gateway:
    """Runs the services of one configuration until `stop` (or a reload it cannot apply in
    place)."""

    def __init__(self, settings: Settings, clock: Clock, config_path: Path | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.config_path = config_path
        self.reloaded: Settings | None = None
        self.listening: asyncio.Future[Listening] = asyncio.get_running_loop().create_future()
        self.built: Built | None = None
        self._restart = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._notifier = Notifier.from_environ()

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.settings
        async with contextlib.AsyncExitStack() as resources:
            resources.callback(self._notifier.close)
            built = await build(
                settings,
                self.clock,
                self.config_path,
                resources,
                control=self,
                notifier=self._notifier,
            )
            http = settings.http
            limits = ConnectionLimits(
                http.idle_timeout_s,
                http.header_timeout_s,
                http.body_timeout_s,
                http.max_connections_per_address,
                http.max_connections,
            )
            tls = None
            if http.tls_cert is not None and http.tls_key is not None:
                tls = tls_context(http.tls_cert, http.tls_key)
            async with serve_http(built.app, http.host, http.port, limits, tls) as listening:
                self._notifier.ready(f"serving on {listening.url}")
                log.info(
                    "gateway %s of unit %s running: %d probe(s) on %d bus(es), alarms %s, "
                    "forwarding to %s",
                    settings.gateway.number,
                    settings.unit.code,
                    len(settings.probes),
                    len(settings.buses),
                    "on" if settings.alerts is not None else "off (no [alerts] section)",
                    ", ".join(pump.target for pump in built.forwarders.pumps) or "nothing",
                )
                self.built = built
                try:
                    await supervise(built.services, lambda: self._serve(listening, stop))
                finally:
                    self.built = None
            log.info("stopped cleanly; last reading seq %d", built.store.last_seq())

    async def _serve(self, listening: Listening, stop: asyncio.Event) -> None:
        """Say where the gateway listens (to the process that started it) once its services
        have taken their first steps (the driver pool's drivers open their ports in theirs),
        then wait for a stop or a restart."""
        for _ in range(STARTING_STEPS):
            await asyncio.sleep(0)
        if not self.listening.done():
            self.listening.set_result(listening)
        await first_of(stop.wait(), self._restart.wait())
        if stop.is_set():
            self._notifier.stopping("stopping: flushing the store")
        else:
            self._notifier.reloading("reloading the configuration")
        log.info("stopping: drivers first, then flushing the store")

    async def apply(self, settings: Settings) -> str:
        """Run with `settings` from now on: in place when only buses, probes and fridges
        changed, else by restarting the gateway. Returns what was done, for the log and for
        the technician."""
        async with self._reload_lock:
            plan = plan_reload(self.settings, settings)
            built = self.built
            if built is None or plan.restart_reason is not None:
                self.reloaded = settings
                self._restart.set()
                return f"restarting the gateway ({plan.restart_reason or 'it is not running'})"
            self.settings = settings
            for part in built.reconfigurable():
                await part.reconfigure(settings)
            detail = summary(plan, driver_specs(settings))
            log.info("configuration: %s", detail)
            return detail

    @contextlib.asynccontextmanager
    async def holding_bus(self, name: str) -> AsyncIterator[None]:
        """Stop polling bus `name` for the block (a discovery scan needs its serial port),
        then poll it again with the settings of that moment.

        The line is left quiet for the bus's timeout first (real seconds: it is the wire's
        time), so that a late reply to the last poll cannot be taken for the scan's.
        """
        built = self.built
        if built is None:
            raise GatewayError("the gateway is not running; fix: try again in a moment")
        key = f"bus:{name}"
        await built.drivers.hold(key)
        try:
            quiet = max(
                (bus.timeout_s for bus in self.settings.buses if bus.name == name), default=0
            )
            await asyncio.sleep(quiet)
            yield
        finally:
            await built.drivers.release(key)


def install_stop_signals(stop: asyncio.Event, budget_s: float = STOP_BUDGET_S) -> None:
    """SIGTERM or SIGINT stops the gateway; a stop that has not completed within `budget_s`
    real seconds ends the process (see `_stop_deadline`)."""
    loop = asyncio.get_running_loop()
    deadline: list[threading.Timer] = []

    def stopping() -> None:
        stop.set()
        if not deadline:
            deadline.append(_stop_deadline(budget_s))

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping)


def _stop_deadline(budget_s: float) -> threading.Timer:
    """A thread that ends the process if the stop is not complete within `budget_s`: a task
    that ignores its cancellation or a call that blocks the event loop must not keep systemd
    waiting until it kills the process. Every batch the recorder took is committed by then or
    never will be; the exit status (1) and the threads' stacks in the log say it was forced."""

    def give_up() -> None:
        log.error("the gateway did not stop within %.1f s: exiting now; threads:", budget_s)
        faulthandler.dump_traceback(all_threads=True)
        os._exit(1)

    timer = threading.Timer(budget_s, give_up)
    timer.daemon = True
    timer.start()
    return timer
