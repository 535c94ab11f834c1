"""What a changed configuration means for the running gateway: applied in place, or a restart.

A probe bound, moved or unbound changes the buses, probes and fridges; the store, the recorder,
the forwarders and the web server do not depend on those and keep running. `plan_reload` says
which drivers must be restarted (a bus whose devices changed, the BLE scanner when its probes
changed, a serial port's reader): every other driver keeps polling on its own schedule, so
the other probes' readings continue without a gap. A change to anything else (the store, the
servers, the unit, the scanners, compartments added or removed...) still restarts the whole
gateway, as before.

Applying the plan is `gateway.runtime`'s: every service takes the new settings
(`Service.reconfigure`) and the driver pool restarts the drivers whose spec changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.settings import Settings
from probes.modbus import devices_on_bus
from probes.settings import BleProbe, ModbusProbe, SerialProbe

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
    for port, probes in serial_ports(settings).items():
        specs[f"source:serial:{port}"] = tuple(probes)
    return specs


def serial_ports(settings: Settings) -> dict[str, list[SerialProbe]]:
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
