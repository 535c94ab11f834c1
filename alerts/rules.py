"""Excursion rules for one fridge compartment: readings and ticks in, condition changes out.

Pure: `CompartmentRules` is configuration, `CompartmentState` is plain serialisable data, and
every method returns a new state with the changes it caused. Time is the reading's own
`taken_at` (or the tick's `now`), never the machine's clock.

Default timings (all in `RuleThresholds`):
- too warm: above max_c for 15 min. A door opening warms the air around the probe for a few
  minutes and recovers within ten; the vaccine's own thermal mass lags the air far longer, so
  15 min of warm air is harmless, and tier 1 still has the 30-min response window.
- too cold: a refrigerated compartment at or below 0 °C alarms after 2 min (freezing destroys
  adsorbed vaccines irreversibly); below min_c but above freezing waits 15 min like too warm.
- clear: back inside the range by a 0.3 °C margin (hysteresis, against flapping on the limit)
  for 5 min.
- probe offline: no reading for 3 poll intervals; probe fault: 3 consecutive fault readings;
  battery low below 20 %, cleared at 25 % or more.
- WHO PQS E006 (refrigerated only): ≥ +8.0 °C for 10 h consecutive, ≤ −0.5 °C for 60 min
  consecutive, both thresholds inclusive; recorded, not paged (too warm/cold page far earlier).

"Consecutive" episodes are broken by a reading on the normal side only: a fault reading carries
no temperature and neither extends nor breaks an episode. If the wall clock steps back before
an unconfirmed episode began, the episode restarts at the new time rather than confirming early.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from pydantic import TypeAdapter

from alerts.model import (
    Condition,
    ConditionChange,
    ConditionCleared,
    ConditionKind,
    ConditionRaised,
)
from alerts.settings import RuleSettings, RuleThresholds
from gateway.core.compartments import CompartmentKind, FridgeSettings
from probes.reading import ProbeStatus, Reading


class _Verdict(Enum):
    ABNORMAL = "abnormal"
    SEVERE = "severe"
    BAND = "band"
    NORMAL = "normal"


@dataclass(frozen=True, slots=True)
class Episode:
    """A run of abnormal observations, pending confirmation or raised."""

    since: datetime
    extreme: float | None
    count: int = 0
    extreme_at: datetime | None = None
    severe_since: datetime | None = None
    raised: bool = False
    normal_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProbeState:
    watch_from: datetime
    last_seen: datetime | None = None
    offline_since: datetime | None = None
    episodes: dict[str, Episode] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CompartmentState:
    probes: dict[str, ProbeState]


@dataclass(frozen=True, slots=True)
class ProbeWatch:
    """A probe bound to the compartment: how often it reports and what it reports through."""

    poll_interval_s: float
    via: str | None = None


@dataclass(frozen=True, slots=True)
class _Hold:
    duration_s: float
    count: int = 1
    severe_duration_s: float | None = None
    clear_after_s: float = 0.0
    higher_is_worse: bool = True


_STATE = TypeAdapter(CompartmentState)


def dump_state(state: CompartmentState) -> dict[str, Any]:
    """JSON-ready form of the state, for the store."""
    data: dict[str, Any] = _STATE.dump_python(state, mode="json")
    return data


def load_state(data: Mapping[str, Any]) -> CompartmentState:
    return _STATE.validate_python(data)


@dataclass(frozen=True, slots=True)
class CompartmentRules:
    ref: str
    kind: CompartmentKind
    min_c: float | None
    max_c: float | None
    probes: Mapping[str, ProbeWatch]
    thresholds: RuleThresholds = field(default_factory=RuleThresholds)

    def initial_state(self, now: datetime) -> CompartmentState:
        return CompartmentState({code: ProbeState(watch_from=now) for code in self.probes})

    def on_restart(self, state: CompartmentState, now: datetime) -> CompartmentState:
        """After a gateway restart every probe gets a fresh offline grace period.

        The outage itself is reported once, by `power_gap`; without this every probe would
        also be declared offline at the first tick, before its first poll.
        """
        return CompartmentState(
            {
                code: replace(state.probes.get(code) or ProbeState(now), watch_from=now)
                for code in self.probes
            }
        )

    def on_reading(
        self, state: CompartmentState, reading: Reading
    ) -> tuple[CompartmentState, list[ConditionChange]]:
        watch = self.probes.get(reading.probe)
        if watch is None:
            raise ValueError(f"probe {reading.probe} is not bound to compartment {self.ref}")
        if reading.status is ProbeStatus.STALE:
            return state, []
        at = reading.taken_at
        probe = state.probes.get(reading.probe) or ProbeState(watch_from=at)
        changes: list[ConditionChange] = []
        if probe.offline_since is not None:
            offline = self._condition(ConditionKind.PROBE_OFFLINE, reading.probe)
            changes.append(ConditionCleared(offline, probe.offline_since, at))
        episodes = dict(probe.episodes)
        for kind, verdict, value, hold, detail in self._verdicts(reading):
            before = episodes.get(kind)
            after, change = _track(before, at, verdict, value, hold)
            if after is None:
                episodes.pop(kind, None)
            else:
                episodes[kind] = after
            condition = self._condition(ConditionKind(kind), reading.probe)
            if change == "raised" and after is not None:
                changes.append(
                    ConditionRaised(
                        condition,
                        after.since,
                        at,
                        after.extreme,
                        detail,
                        watch.via,
                        value_at=after.extreme_at or after.since,
                        current=value,
                    )
                )
            elif change == "cleared" and before is not None:
                changes.append(ConditionCleared(condition, before.since, at))
        probe = replace(probe, last_seen=at, offline_since=None, episodes=episodes)
        return CompartmentState(state.probes | {reading.probe: probe}), changes

    def on_tick(
        self, state: CompartmentState, now: datetime
    ) -> tuple[CompartmentState, list[ConditionChange]]:
        """Declare probes offline that have not reported for N poll intervals."""
        probes = dict(state.probes)
        changes: list[ConditionChange] = []
        for code, watch in self.probes.items():
            probe = probes.get(code) or ProbeState(watch_from=now)
            base = max(probe.watch_from, probe.last_seen or probe.watch_from)
            silent_s = (now - base).total_seconds()
            limit_s = self.thresholds.offline_after_polls * watch.poll_interval_s
            if probe.offline_since is None and silent_s >= limit_s:
                since = probe.last_seen or probe.watch_from
                condition = self._condition(ConditionKind.PROBE_OFFLINE, code)
                changes.append(ConditionRaised(condition, since, now, None, "", watch.via))
                probe = replace(probe, offline_since=since)
            probes[code] = probe
        return CompartmentState(probes), changes

    def _condition(self, kind: ConditionKind, probe: str) -> Condition:
        return Condition(kind, self.ref, probe)

    def _verdicts(
        self, reading: Reading
    ) -> Iterable[tuple[str, _Verdict, float | None, _Hold, str]]:
        t = self.thresholds
        fault = _Hold(0.0, count=t.fault_after_readings)
        if reading.temperature is None:
            yield ConditionKind.PROBE_FAULT, _Verdict.ABNORMAL, None, fault, str(reading.status)
        else:
            yield ConditionKind.PROBE_FAULT, _Verdict.NORMAL, None, fault, ""
            yield from self._temperature_verdicts(reading.temperature)
        if reading.battery is not None:
            level = reading.battery
            verdict = (
                _Verdict.ABNORMAL
                if level <= t.battery_low_pct
                else _Verdict.NORMAL
                if level >= t.battery_clear_pct
                else _Verdict.BAND
            )
            hold = _Hold(0.0, higher_is_worse=False)
            yield ConditionKind.BATTERY_LOW, verdict, level, hold, ""

    def _temperature_verdicts(
        self, value: float
    ) -> Iterable[tuple[str, _Verdict, float | None, _Hold, str]]:
        t = self.thresholds
        refrigerated = self.kind is CompartmentKind.REFRIGERATED
        if self.max_c is not None:
            verdict = _band(value > self.max_c, value <= self.max_c - t.hysteresis_c)
            hold = _Hold(t.too_warm_hold_off_s, clear_after_s=t.clear_after_s)
            yield ConditionKind.TOO_WARM, verdict, value, hold, ""
        if self.min_c is not None or refrigerated:
            severe = refrigerated and value <= t.freezing_c
            low = self.min_c is not None and value < self.min_c
            normal = (self.min_c is None or value >= self.min_c + t.hysteresis_c) and (
                not refrigerated or value > t.freezing_c + t.hysteresis_c
            )
            verdict = _Verdict.SEVERE if severe else _band(low, normal)
            hold = _Hold(
                t.too_cold_hold_off_s,
                severe_duration_s=t.freezing_hold_off_s,
                clear_after_s=t.clear_after_s,
                higher_is_worse=False,
            )
            yield ConditionKind.TOO_COLD, verdict, value, hold, ""
        if refrigerated:
            heat = _Verdict.ABNORMAL if value >= t.who_heat_c else _Verdict.NORMAL
            yield ConditionKind.WHO_HEAT, heat, value, _Hold(t.who_heat_s), ""
            freeze = _Verdict.ABNORMAL if value <= t.who_freeze_c else _Verdict.NORMAL
            hold = _Hold(t.who_freeze_s, higher_is_worse=False)
            yield ConditionKind.WHO_FREEZE, freeze, value, hold, ""


def _band(abnormal: bool, normal: bool) -> _Verdict:
    if abnormal:
        return _Verdict.ABNORMAL
    return _Verdict.NORMAL if normal else _Verdict.BAND


def _track(
    episode: Episode | None, at: datetime, verdict: _Verdict, value: float | None, hold: _Hold
) -> tuple[Episode | None, str | None]:
    """Advance one rule's episode by one observation; says "raised" or "cleared" on change."""
    if verdict in (_Verdict.ABNORMAL, _Verdict.SEVERE):
        return _track_abnormal(episode, at, verdict is _Verdict.SEVERE, value, hold)
    if episode is None or not episode.raised:
        return None, None
    if verdict is _Verdict.BAND:
        return replace(episode, normal_since=None), None
    normal_since = episode.normal_since
    if normal_since is None or normal_since > at:
        normal_since = at
    if (at - normal_since).total_seconds() >= hold.clear_after_s:
        return None, "cleared"
    return replace(episode, normal_since=normal_since), None


def _track_abnormal(
    episode: Episode | None, at: datetime, severe: bool, value: float | None, hold: _Hold
) -> tuple[Episode, str | None]:
    if episode is None or (not episode.raised and at < episode.since):
        episode = Episode(since=at, extreme=value, extreme_at=at)
    severe_since = (episode.severe_since or at) if severe else None
    extreme = _worse(episode.extreme, value, hold.higher_is_worse)
    episode = replace(
        episode,
        count=episode.count + 1,
        extreme=extreme,
        extreme_at=episode.extreme_at if extreme == episode.extreme else at,
        severe_since=severe_since,
        normal_since=None,
    )
    held = (at - episode.since).total_seconds() >= hold.duration_s
    held_severe = (
        severe_since is not None
        and hold.severe_duration_s is not None
        and (at - severe_since).total_seconds() >= hold.severe_duration_s
    )
    if not episode.raised and ((held and episode.count >= hold.count) or held_severe):
        return replace(episode, raised=True), "raised"
    return episode, None


def _worse(current: float | None, value: float | None, higher_is_worse: bool) -> float | None:
    if current is None or value is None:
        return value if current is None else current
    return max(current, value) if higher_is_worse else min(current, value)


def power_gap(
    gateway: str, last_seen: datetime, now: datetime, thresholds: RuleThresholds
) -> list[ConditionChange]:
    """After a restart: report the outage if the gap since the gateway was last alive is long.

    The gateway is running again, so the condition is raised and cleared at once: tier 1 hears
    of the gap (its length in `value`, seconds), nobody is escalated for a past event, and the
    alarm stays open until someone records a disposition. A clock that went back yields nothing.
    """
    gap_s = (now - last_seen).total_seconds()
    if gap_s < thresholds.power_gap_s:
        return []
    condition = Condition(ConditionKind.GATEWAY_POWER, gateway)
    return [
        ConditionRaised(condition, last_seen, now, gap_s),
        ConditionCleared(condition, last_seen, now),
    ]


class BoundProbe(Protocol):
    """What the rules need of a configured probe, whatever its transport."""

    @property
    def code(self) -> str: ...

    @property
    def compartment(self) -> str: ...

    @property
    def interval_s(self) -> float: ...

    @property
    def via(self) -> str: ...


def rules_for(
    fridges: Iterable[FridgeSettings], probes: Iterable[BoundProbe], rules: RuleSettings
) -> dict[str, CompartmentRules]:
    """One evaluator per configured compartment, keyed by `FRIDGE/COMPARTMENT`."""
    watches: dict[str, dict[str, ProbeWatch]] = {}
    for probe in probes:
        watches.setdefault(probe.compartment, {})[probe.code] = ProbeWatch(
            probe.interval_s, probe.via
        )
    result: dict[str, CompartmentRules] = {}
    for fridge in fridges:
        for compartment in fridge.compartments:
            ref = fridge.ref(compartment)
            result[ref] = CompartmentRules(
                ref=ref,
                kind=compartment.kind,
                min_c=compartment.min_c,
                max_c=compartment.max_c,
                probes=watches.get(ref, {}),
                thresholds=rules.thresholds_for(ref),
            )
    return result
