"""Applying a changed configuration to the running gateway without stopping it.

A probe bound, moved or unbound changes the buses, probes and fridges; the store, the recorder,
the forwarders and the web server do not depend on those and keep running. `plan_reload` says
which drivers must be restarted (a bus whose devices changed, the BLE scanner when its probes
changed, a serial port's reader): every other driver keeps polling on its own schedule, so
the other probes' readings continue without a gap. A change to anything else (the store, the
servers, the unit, the scanners, compartments added or removed...) still restarts the whole
gateway, as before.

The alarm service builds its rules from the probes and fridges: it gets a new rule core for the
new configuration, started from its store, while its tasks keep running (the same object stays,
so the web routes and the scan listener keep using it).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.core.clock import Clock
from gateway.settings import Settings
from gateway.sources import Driver, Emit
from probes.modbus import ModbusBusDriver, devices_on_bus
from probes.settings import BleProbe, ModbusProbe, SerialProbe

if TYPE_CHECKING:
    pass

# Top-level sections a reload applies in place; a change anywhere else restarts the gateway.
IN_PLACE = frozenset({"buses", "probes", "fridges", "profiles", "ble"})
# Sections whose change gives the alarm rules, the views and the reports a new probe list.
PROBE_LIST = frozenset({"probes", "fridges", "profiles"})


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """`restart_reason` set: restart the whole gateway. Otherwise stop the drivers in `stop`,
    start those in `start` (a changed driver is in both), and, with `probes_changed`, give
    the alarm service and the reports the new probe list."""

    restart_reason: str | None
    stop: frozenset[str] = frozenset()
    start: frozenset[str] = frozenset()
    probes_changed: bool = False

    @property
    def changes_anything(self) -> bool:
        return bool(self.restart_reason or self.stop or self.start or self.probes_changed)


def driver_key(driver: Driver) -> str:
    """The name of a driver's task: `bus:NAME` for a Modbus bus, `source:NAME` otherwise."""
    return f"bus:{driver.name}" if isinstance(driver, ModbusBusDriver) else f"source:{driver.name}"


def driver_specs(settings: Settings) -> dict[str, object]:
    """What each probe driver is built from, by its key: equal specs, same driver."""
    specs: dict[str, object] = {}
    for bus in settings.buses:
        devices = devices_on_bus(settings.probes_of(ModbusProbe), settings.all_profiles(), bus.name)
        if devices:
            specs[f"bus:{bus.name}"] = (
                bus,
                tuple(
                    (d.device_id, d.profile, tuple(sorted(d.channels.items())), d.interval_s)
                    for d in devices
                ),
            )
    ble = settings.probes_of(BleProbe)
    if ble:
        specs["source:ble"] = (settings.ble, tuple(ble))
    for port, probes in _serial_ports(settings).items():
        specs[f"source:serial:{port}"] = tuple(probes)
    return specs


def _serial_ports(settings: Settings) -> dict[str, list[SerialProbe]]:
    by_port: dict[str, list[SerialProbe]] = defaultdict(list)
    for probe in settings.probes_of(SerialProbe):
        by_port[probe.port].append(probe)
    return by_port


def plan_reload(old: Settings, new: Settings) -> ReloadPlan:
    rest_old = old.model_dump(exclude=set(IN_PLACE))
    rest_new = new.model_dump(exclude=set(IN_PLACE))
    differing = sorted(
        key for key in rest_old.keys() | rest_new.keys() if rest_old.get(key) != rest_new.get(key)
    )
    if differing:
        return ReloadPlan(f"[{'], ['.join(differing)}] changed")
    if _compartment_refs(old) != _compartment_refs(new):
        # Stock locations and alarm histories hang on compartments: added or removed ones are
        # taken up by a fresh start (the forms only bind probes and rename fridges).
        return ReloadPlan("compartments added or removed")
    before, after = driver_specs(old), driver_specs(new)
    stop = {key for key, spec in before.items() if after.get(key) != spec}
    start = {key for key, spec in after.items() if before.get(key) != spec}
    probes_changed = any(getattr(old, name) != getattr(new, name) for name in PROBE_LIST)
    return ReloadPlan(None, frozenset(stop), frozenset(start), probes_changed)


def _compartment_refs(settings: Settings) -> list[str]:
    return [f"{f.code}/{c.name}" for f in settings.fridges for c in f.compartments]


def build_driver(key: str, settings: Settings, emit: Emit, clock: Clock) -> Driver:
    """The driver for one key of `driver_specs(settings)`."""
    kind, _, name = key.partition(":")
    if kind == "bus":
        bus = next(bus for bus in settings.buses if bus.name == name)
        return ModbusBusDriver(
            bus,
            devices_on_bus(settings.probes_of(ModbusProbe), settings.all_profiles(), name),
            emit,
            clock,
        )
    if name == "ble":
        from probes.ble import BleDriver
        from probes.settings import BleSettings

        return BleDriver(settings.probes_of(BleProbe), settings.ble or BleSettings(), emit, clock)
    from probes.serial_probe import SerialProbeDriver

    return SerialProbeDriver(_serial_ports(settings)[name.removeprefix("serial:")], emit, clock)


class DriverTasks:
    """The running drivers, each a named task of the supervisor's TaskGroup, replaceable one
    by one. A held key (a bus lent to a discovery scan) starts nothing until released; once
    `stop_all` has run (the gateway stops) nothing starts at all."""

    def __init__(self, group: asyncio.TaskGroup) -> None:
        self._group = group
        self._running: dict[str, tuple[Driver, asyncio.Task[None]]] = {}
        self._held: set[str] = set()
        self._closed = False

    def start(self, driver: Driver, key: str | None = None) -> None:
        key = key or driver_key(driver)
        if self._closed or key in self._held:
            return
        self._running[key] = (driver, self._group.create_task(driver.run(), name=key))

    async def stop(self, keys: Iterable[str]) -> None:
        tasks = [self._running.pop(key)[1] for key in keys if key in self._running]
        await cancel_all(tasks)

    async def hold(self, key: str) -> None:
        self._held.add(key)
        await self.stop([key])

    def release(self, key: str) -> None:
        self._held.discard(key)

    async def stop_all(self) -> None:
        self._closed = True
        await self.stop(list(self._running))

    def drivers(self) -> list[Driver]:
        return [driver for driver, _ in self._running.values()]

    def bus_drivers(self) -> list[ModbusBusDriver]:
        return [driver for driver in self.drivers() if isinstance(driver, ModbusBusDriver)]

    def source_drivers(self) -> list[Driver]:
        return [driver for driver in self.drivers() if not isinstance(driver, ModbusBusDriver)]


async def cancel_all(tasks: Sequence[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def restart_task(
    group: asyncio.TaskGroup,
    tasks: list[asyncio.Task[Any]],
    name: str,
    make: Callable[[], Coroutine[Any, Any, None]],
) -> None:
    """Stop the task called `name` in `tasks` (one of the supervisor's stage lists) and put a
    new one from `make` in its place, where the supervisor's shutdown finds it."""
    for index, task in enumerate(tasks):
        if task.get_name() == name:
            await cancel_all([task])
            tasks[index] = group.create_task(make(), name=name)
            return


def summary(plan: ReloadPlan, specs: Mapping[str, object]) -> str:
    """One line for the log and for the technician: what the reload restarted."""
    if not plan.changes_anything:
        return "configuration unchanged"
    restarted = sorted(plan.start & plan.stop)
    started = sorted(plan.start - plan.stop)
    stopped = sorted(plan.stop - plan.start)
    parts = [
        f"{label}: {', '.join(keys)}"
        for label, keys in (("restarted", restarted), ("started", started), ("stopped", stopped))
        if keys
    ]
    if plan.probes_changed:
        parts.append("alarm rules and views updated")
    kept = len(set(specs) - plan.start)
    return f"applied in place ({'; '.join(parts)}; {kept} other driver(s) kept running)"
