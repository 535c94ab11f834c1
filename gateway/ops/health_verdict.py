"""The verdict on a health document: the worst of its parts, with the reasons.

One rule for both readers of /api/health: the document's own top-level `status` (and
`problems`) and the problem list of `coldchain status`, which exits non-zero on any. It reads
the JSON document only, so `coldchain status` judges a remote gateway the same way.

Levels: `ok`; `degraded` (the gateway works, something wants a look: a probe not ok, a bus
down, an open alarm, a forwarder retrying); `failing` (something will not recover without a
person: store write errors, notifications that failed to send, a forwarder refused by its
server or unable to deliver for an hour).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

#: A forwarder whose oldest unsent reading is older than this while it keeps failing is
#: `failing`: the county has not seen this clinic for that long.
LONG_OUTAGE_S = 3600.0

#: Forwarder states that only a change of configuration or of the server ends.
NEEDS_A_PERSON = frozenset({"auth_failed", "database_missing"})


class Level(IntEnum):
    OK = 0
    DEGRADED = 1
    FAILING = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Problem:
    level: Level
    text: str

    def to_json(self) -> dict[str, str]:
        return {"level": self.level.label, "text": self.text}


@dataclass(frozen=True, slots=True)
class Verdict:
    problems: tuple[Problem, ...]

    @property
    def level(self) -> Level:
        return max((problem.level for problem in self.problems), default=Level.OK)

    @property
    def status(self) -> str:
        return self.level.label

    def texts(self) -> list[str]:
        return [problem.text for problem in self.problems]


def judge(body: Mapping[str, Any]) -> Verdict:
    """Every problem of a health document, worst first (stable within a level)."""
    found = [
        *_store(body.get("store") or {}),
        *_buses(body.get("buses") or []),
        *_probes(body.get("probes") or []),
        *_sources(body.get("sources") or []),
        *_clock(body),
        *_forwarders(body.get("forwarders") or {}),
        *_event_lanes("alarm events", body.get("alarm_events") or {}),
        *_event_lanes("exposure events", body.get("exposure_events") or {}),
        *_alarms(body.get("alarms")),
        *_ledger(body.get("ledger")),
        *_disk(body.get("disk_budget")),
    ]
    return Verdict(tuple(sorted(found, key=lambda problem: -problem.level)))


def _store(store: Mapping[str, Any]) -> Iterator[Problem]:
    if store.get("write_errors"):
        yield Problem(
            Level.FAILING,
            f"store: {store['write_errors']} write error(s): {store.get('last_error')}",
        )


def _buses(buses: Sequence[Mapping[str, Any]]) -> Iterator[Problem]:
    for bus in buses:
        if not bus.get("connected"):
            yield Problem(
                Level.DEGRADED, f"bus {bus.get('name')}: not connected ({bus.get('link_error')})"
            )
        for device in bus.get("devices") or []:
            if not device.get("available"):
                yield Problem(
                    Level.DEGRADED,
                    f"bus {bus.get('name')} device {device.get('device_id')}: unavailable"
                    f" ({device.get('last_error')})",
                )


def _probes(probes: Sequence[Mapping[str, Any]]) -> Iterator[Problem]:
    for probe in probes:
        status = str(probe.get("status"))
        if status != "ok":
            yield Problem(Level.DEGRADED, f"probe {probe.get('code')}: {status}")


def _sources(sources: Sequence[Mapping[str, Any]]) -> Iterator[Problem]:
    for source in sources:
        if source.get("connected") is False or source.get("last_error"):
            yield Problem(
                Level.DEGRADED,
                f"source {source.get('name')}: {source.get('last_error') or 'down'}",
            )


def _clock(body: Mapping[str, Any]) -> Iterator[Problem]:
    clock = body.get("clock")
    synced = clock.get("synced") if isinstance(clock, Mapping) else body.get("clock_synced")
    if not synced:
        warning = clock.get("warning") if isinstance(clock, Mapping) else None
        yield Problem(Level.DEGRADED, warning or "clock: not synchronised (see timedatectl)")


def _forwarders(forwarders: Mapping[str, Mapping[str, Any]]) -> Iterator[Problem]:
    for name, pump in forwarders.items():
        failures = pump.get("consecutive_failures")
        if not failures:
            continue
        age = pump.get("oldest_unsent_age_s")
        level = Level.DEGRADED
        outage = ""
        if pump.get("state") in NEEDS_A_PERSON:
            level = Level.FAILING
        if isinstance(age, int | float) and age >= LONG_OUTAGE_S:
            level = Level.FAILING
            outage = f", nothing delivered for {age / 3600:.1f} h"
        yield Problem(
            level,
            f"forwarder {name}: {pump.get('state')}, {failures} failure(s) in a row"
            f" ({pump.get('last_error')}), backlog {pump.get('backlog')}{outage}",
        )


def _event_lanes(what: str, lanes: Mapping[str, Mapping[str, Any]]) -> Iterator[Problem]:
    for name, lane in lanes.items():
        if lane.get("last_error"):
            yield Problem(Level.DEGRADED, f"{what} to {name}: {lane['last_error']}")


def _alarms(alarms: Mapping[str, Any] | None) -> Iterator[Problem]:
    if alarms is None:
        return
    open_alarms = int(alarms.get("open_alarms") or 0)
    failed = int(alarms.get("outbox_failed") or 0)
    if open_alarms:
        yield Problem(Level.DEGRADED, f"alarms: {open_alarms} open (see the web page)")
    if failed:
        yield Problem(
            Level.FAILING,
            f"alarms: {failed} notification(s) failed to send ({alarms.get('last_error')})",
        )


def _ledger(ledger: Mapping[str, Any] | None) -> Iterator[Problem]:
    if ledger is None:
        return
    for key in ("ledger_error", "upload_error", "deadline_problem", "daily_error"):
        if ledger.get(key):
            yield Problem(Level.DEGRADED, f"ledger: {ledger[key]}")


def _disk(budget: Mapping[str, Any] | None) -> Iterator[Problem]:
    if budget is not None and budget.get("over_budget"):
        used = int(budget.get("used_bytes") or 0)
        yield Problem(Level.DEGRADED, f"disk: store uses {used // 1_000_000} MB, over its budget")
