"""The synchronous heart of the alarm service: rules + escalation + persistence, no asyncio.

`AlarmCore` owns the in-memory rule states and escalation state and the `AlarmStore`. Each
public method is one step: it computes the new states with the pure functions of `alerts`,
writes them with every transition and new outbox row in ONE transaction, and only then makes
them current. If the write fails, nothing changes in memory either (the readings are evaluated
again from the cursor, an operator gets an error), so memory and disk never disagree.

Cheap on an SD card: a reading batch that changes no condition is applied in memory only and
marked dirty; the rule states and the evaluated seq are checkpointed with the next step that
writes anyway, or at the next tick (~30 s). After a crash the readings since the last
checkpoint are replayed from the readings store through the same pure rules: the replay yields
exactly the changes that were not yet persisted, so nothing is lost or raised twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from alerts import rules as rules_mod
from alerts.escalation import observe, step_many
from alerts.escalation_state import (
    Alarm,
    EscalationState,
    Event,
    Notify,
    Tick,
    Transition,
    TransitionKind,
)
from alerts.escalation_state import dump_state as dump_escalation
from alerts.escalation_state import load_state as load_escalation
from alerts.model import ConditionChange, ConditionCleared, ConditionKind, ConditionRaised
from alerts.rules import CompartmentRules, CompartmentState, rules_for
from alerts.settings import AlertSettings
from gateway.alarms.notices import DosesAtRisk, outbox_rows
from gateway.core.errors import ConfigError
from gateway.settings import Settings
from gateway.storage.alarm_rows import WhoEvent, Work
from gateway.storage.alarms import META_HEARTBEAT, AlarmStore
from gateway.storage.readings import StoredReading

log = logging.getLogger(__name__)

_ALARM = TypeAdapter(Alarm)
_WHO = (ConditionKind.WHO_HEAT, ConditionKind.WHO_FREEZE)


def alerts_of(settings: Settings) -> AlertSettings:
    if settings.alerts is None:
        raise ConfigError(
            "alarms need an [alerts] section (people, tiers, channels, ack); fix: add it to "
            "the configuration, see config/demo.toml"
        )
    return settings.alerts


class AlarmCore:
    """Rule states, escalation state and their store; see the module docstring."""

    def __init__(self, settings: Settings, store: AlarmStore) -> None:
        self.settings = settings
        self.alerts = alerts_of(settings)
        self.store = store
        self.rules: dict[str, CompartmentRules] = rules_for(
            settings.fridges, settings.probes, self.alerts.rules
        )
        self.probe_ref = {code: ref for ref, rules in self.rules.items() for code in rules.probes}
        self.escalation = EscalationState(settings.unit.code)
        self.rule_states: dict[str, CompartmentState] = {}
        self.evaluated_seq = 0
        self._dirty: set[str] = set()
        self._cursor_dirty = False
        self._observed: set[str] = set()
        self.doses_at_risk: DosesAtRisk | None = None

    # -- start -----------------------------------------------------------------------------

    def start(self, now: datetime, readings_last_seq: int) -> int:
        """Load what was persisted, give probes a fresh grace period, report a power gap.

        Returns the seq after which readings still need evaluating. A new alarm store on an
        existing readings store starts at its end: history is not replayed as alarms."""
        saved = self.store.escalation_state()
        if saved is not None:
            self.escalation = load_escalation(saved)
            if self.escalation.unit != self.settings.unit.code:
                raise ConfigError(
                    f"{self.store.path} holds the alarms of unit {self.escalation.unit}, this "
                    f"gateway is configured for unit {self.settings.unit.code}; fix: correct "
                    "[unit] code, or move the file aside to start a new alarm history"
                )
        stored = self.store.rule_states()
        for ref, rules in self.rules.items():
            state = rules_mod.load_state(stored[ref]) if ref in stored else rules.initial_state(now)
            self.rule_states[ref] = rules.on_restart(state, now)
        evaluated = self.store.evaluated_seq()
        self.evaluated_seq = readings_last_seq if evaluated is None else evaluated
        work = Work(
            rule_states=self._dump_rules(self.rules),
            evaluated_seq=self.evaluated_seq,
            meta={META_HEARTBEAT: now.isoformat()},
        )
        events: list[Event] = []
        last_alive = self.store.get_meta(META_HEARTBEAT)
        if last_alive is not None:
            gap = rules_mod.power_gap(
                self.settings.gateway.number,
                datetime.fromisoformat(last_alive),
                now,
                self.alerts.rules.defaults,
            )
            events.extend(gap)
        self._commit_steps(events, now, work, always_state=saved is None)
        return self.evaluated_seq

    # -- steps -----------------------------------------------------------------------------

    def on_readings(self, batch: Sequence[StoredReading], now: datetime) -> int:
        """Evaluate committed readings (those after the cursor); returns new outbox rows.

        Each temperature also becomes the current value (and maybe the peak) of its open
        temperature alarm, in memory, persisted with the next step or tick: after a crash the
        replay of the readings since the checkpoint observes them again."""
        states: dict[str, CompartmentState] = {}
        changes: list[ConditionChange] = []
        last_seq: int | None = None
        for stored in batch:
            if stored.seq <= self.evaluated_seq:
                continue
            last_seq = stored.seq
            reading = stored.reading
            ref = self.probe_ref.get(reading.probe)
            if ref is None:
                continue
            state = states.get(ref) or self.rule_states[ref]
            state, found = self.rules[ref].on_reading(state, reading)
            states[ref] = state
            changes.extend(found)
            if reading.temperature is not None:
                self._observe(reading.probe, ref, reading.temperature, reading.taken_at)
        if last_seq is None:
            return 0
        if not changes:
            self.rule_states.update(states)
            self._dirty.update(states)
            self.evaluated_seq = last_seq
            self._cursor_dirty = True
            return 0
        work = Work(evaluated_seq=last_seq)
        created = self._commit_steps(changes, now, work, rule_states=states)
        self.evaluated_seq = last_seq
        return created

    def on_tick(self, now: datetime, links: Sequence[ConditionChange] = ()) -> int:
        """Offline checks, link conditions and due escalations; checkpoints dirty rule states,
        the cursor and the heartbeat. Returns the number of new outbox rows."""
        states: dict[str, CompartmentState] = {}
        changes: list[ConditionChange] = list(links)
        for ref, rules in self.rules.items():
            state, found = rules.on_tick(self.rule_states[ref], now)
            if found or state != self.rule_states[ref]:
                states[ref] = state
            changes.extend(found)
        work = Work(meta={META_HEARTBEAT: now.isoformat()})
        return self._commit_steps([*changes, Tick()], now, work, rule_states=states)

    def apply(self, event: Event, now: datetime) -> list[Transition]:
        """An operator's event (ack, close, silence); raises RejectedEventError, changing
        nothing, when the escalation refuses it. Returns the transitions it caused."""
        work = Work()
        self._commit_steps([event], now, work)
        return work.transitions

    # -- views -----------------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        """The earliest moment the escalation has something to do without a new event."""
        state = self.escalation
        timing = self.alerts.escalation
        after = {2: timing.tier2_after_s, 3: timing.tier3_after_s}
        moments = [silence.until for silence in state.silences]
        for alarm in state.alarms.values():
            if not alarm.active or alarm.suppressed_by or alarm.escalation_start is None:
                continue
            moments.extend(
                alarm.escalation_start + timedelta(seconds=seconds)
                for tier, seconds in after.items()
                if tier not in alarm.notified
            )
            if alarm.next_repeat is not None:
                moments.append(alarm.next_repeat)
        return min(moments, default=None)

    def open_link_alarms(self) -> list[str]:
        return [
            alarm.condition.subject
            for alarm in self.escalation.alarms.values()
            if alarm.condition.kind is ConditionKind.GATEWAY_LINK and alarm.active
        ]

    # -- internals -------------------------------------------------------------------------

    def _observe(self, probe: str, ref: str, celsius: float, at: datetime) -> None:
        before = self.escalation
        self.escalation = observe(before, probe, ref, celsius, at)
        if self.escalation is not before:
            self._observed.update(
                alarm_id
                for alarm_id, alarm in self.escalation.alarms.items()
                if before.alarms.get(alarm_id) != alarm
            )

    def _commit_steps(
        self,
        events: Iterable[Event],
        now: datetime,
        work: Work,
        *,
        rule_states: Mapping[str, CompartmentState] | None = None,
        always_state: bool = False,
    ) -> int:
        old = self.escalation
        events = list(events)
        for event in events:
            if isinstance(event, ConditionRaised | ConditionCleared):
                self._who(event, work)
        state, actions = step_many(old, events, now, self.alerts)
        self._record(actions, now, work)
        changed_rules = dict(rule_states or {})
        observed = self._observed
        if work.transitions or work.outbox or changed_rules or self._dirty or always_state:
            # Checkpoint: every rule state that differs from disk goes with the cursor.
            for ref in self._dirty:
                changed_rules.setdefault(ref, self.rule_states[ref])
            work.rule_states.update(self._dump_states(changed_rules))
            if work.evaluated_seq is None and (self._cursor_dirty or changed_rules):
                work.evaluated_seq = self.evaluated_seq
        if always_state or observed or _differs(old, state):
            work.escalation = dump_escalation(state)
            for alarm_id, alarm in state.alarms.items():
                if alarm_id in observed or old.alarms.get(alarm_id) != alarm:
                    work.alarms[alarm_id] = _summary(alarm)
        created = self.store.commit(work)
        self.escalation = state
        self._observed = set()
        self.rule_states.update(changed_rules)
        if work.evaluated_seq is not None:
            self._dirty.clear()
            self._cursor_dirty = False
        return len(created)

    def _record(
        self,
        actions: Sequence[Notify | Transition],
        now: datetime,
        work: Work,
    ) -> None:
        for action in actions:
            if isinstance(action, Notify):
                work.outbox.extend(
                    outbox_rows(action, self.settings, self.alerts, now, self.doses_at_risk)
                )
                continue
            work.transitions.append(action)
            if action.kind is TransitionKind.CLOSED and action.alarm_id is not None:
                work.closes.append((action.alarm_id, action.at, action.who, action.detail))
                work.cancel_pending.append(
                    (action.alarm_id, f"not sent: alarm closed by {action.who} before delivery")
                )

    @staticmethod
    def _who(change: ConditionRaised | ConditionCleared, work: Work) -> None:
        condition = change.condition
        if condition.kind not in _WHO:
            return
        value = change.value if isinstance(change, ConditionRaised) else None
        work.who.append(
            WhoEvent(
                str(condition.kind),
                condition.subject,
                condition.probe,
                change.since,
                change.at,
                value,
                isinstance(change, ConditionCleared),
            )
        )

    def _dump_rules(self, refs: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {ref: rules_mod.dump_state(self.rule_states[ref]) for ref in refs}

    @staticmethod
    def _dump_states(states: Mapping[str, CompartmentState]) -> dict[str, dict[str, Any]]:
        return {ref: rules_mod.dump_state(state) for ref, state in states.items()}


def _differs(old: EscalationState, new: EscalationState) -> bool:
    """Whether anything but the last-seen clock changed (the clock alone is not persisted)."""
    return replace(old, clock=None) != replace(new, clock=None)


def _summary(alarm: Alarm) -> tuple[str, str, str | None, datetime, dict[str, Any]]:
    data: dict[str, Any] = _ALARM.dump_python(alarm, mode="json")
    condition = alarm.condition
    return str(condition.kind), condition.subject, condition.probe, alarm.opened_at, data
