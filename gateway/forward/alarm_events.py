"""Alarm events to the county: every alarm transition, once, in order, to InfluxDB and MQTT.

The county measures response times centrally (acknowledgement latency, escalations reaching
tier 2 and 3), so each transition of an alarm travels like a reading does: a lane
(`gateway.forward.event_lane`) reads the alarm store's transitions after a cursor kept in that
store, hands them to a deliverer, and advances the cursor only once the server acknowledged. A
replay after a crash rewrites the same points (same series, same timestamp); MQTT consumers
de-duplicate on `seq`.

InfluxDB line protocol (measurement `coldchain_alarm`)::

    coldchain_alarm,compartment=<name>,condition=<kind>,event=<event>,fridge=<code>,
                    gateway=<number>,probe=<code>,region=<code>,unit=<code>,who=<person>
                    alarm="<id>",alarm_no=<int>i,seq=<int>i,tier=<int>i,value=<float>
                    <time, ms>

`condition` is the alerts ConditionKind (too_warm, probe_fault, gateway_link, ...); `event` is
opened, reopened, tier_notified, acknowledged, cleared or closed; `tier` only on tier_notified,
`who` only on acknowledged and closed, `value` when the alarm carries one. Transitions that
belong to no alarm (silences, clock steps) stay on the gateway.

Both engines keep what the county needs: VictoriaMetrics keeps numbers and tags but stores a
string field as 0, so the alarm is also carried as `alarm_no`, its number on this gateway
(unit + gateway + alarm_no name it, as on the clinic's pages), and `who` is a tag, whose values
are bounded by the clinic's alarm people. `alarm` (the full id, as text) is for InfluxDB.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.core.backoff import Backoff
from gateway.core.clock import Clock
from gateway.core.compartments import CompartmentRef
from gateway.forward.event_lane import EventLane, Page
from gateway.forward.line_protocol import series_key
from gateway.forward.tags import Identity
from gateway.storage.alarm_rows import AlarmRow, TransitionRow
from gateway.storage.alarms import AlarmStore
from gateway.storage.readings import to_millis

MEASUREMENT = "coldchain_alarm"
FORWARDED = frozenset({"opened", "reopened", "tier_notified", "acknowledged", "cleared", "closed"})


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    seq: int
    alarm: str
    condition: str
    event: str
    at: datetime
    fridge: str | None
    compartment: str | None
    probe: str | None
    tier: int | None
    who: str | None
    value: float | None
    number: int | None = None
    """The alarm's number on this gateway (`alarm_no`), as on the clinic's pages."""

    def as_json(self, identity: Identity) -> dict[str, object]:
        return {
            "seq": self.seq,
            **dict(identity.tags()),
            "alarm": self.alarm,
            "alarm_no": self.number,
            "condition": self.condition,
            "event": self.event,
            "at": self.at.isoformat(),
            "fridge": self.fridge,
            "compartment": self.compartment,
            "probe": self.probe,
            "tier": self.tier,
            "who": self.who,
            "value": self.value,
        }


def _tier(detail: str) -> int | None:
    """`tier 2: li, wang` -> 2 (the escalation's own wording of a tier_notified transition)."""
    head = detail.partition(":")[0].removeprefix("tier ").strip()
    return int(head) if head.isdigit() else None


def events_from(
    transitions: Sequence[TransitionRow], alarms: Mapping[str, AlarmRow]
) -> list[AlarmEvent]:
    """Pure: the forwardable events among these transitions, with their alarm's placement."""
    events = []
    for row in transitions:
        alarm = alarms.get(row.alarm_id) if row.alarm_id else None
        if alarm is None or row.kind not in FORWARDED:
            continue
        condition = alarm.data.get("condition", {})
        subject = str(condition.get("subject", ""))
        ref = CompartmentRef.parse(subject)
        value = alarm.data.get("value")
        events.append(
            AlarmEvent(
                seq=row.seq,
                alarm=alarm.id,
                condition=str(condition.get("kind", "")),
                event=row.kind,
                at=row.at,
                fridge=ref.fridge if ref else None,
                compartment=(ref.compartment or None) if ref else None,
                probe=condition.get("probe") or None,
                tier=_tier(row.detail) if row.kind == "tier_notified" else None,
                who=row.who if row.kind in ("acknowledged", "closed") else None,
                value=float(value) if isinstance(value, int | float) else None,
                number=alarm.no,
            )
        )
    return events


def _string_field(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def alarm_event_line(event: AlarmEvent, identity: Identity) -> str:
    """Pure: one event as InfluxDB line protocol (see the module docstring)."""
    key = series_key(
        MEASUREMENT,
        (
            *identity.tags(),
            ("fridge", event.fridge),
            ("compartment", event.compartment),
            ("probe", event.probe),
            ("condition", event.condition),
            ("event", event.event),
            ("who", event.who),
        ),
    )
    fields = [f"alarm={_string_field(event.alarm)}"]
    if event.number is not None:
        fields.append(f"alarm_no={event.number}i")
    fields.append(f"seq={event.seq}i")
    if event.tier is not None:
        fields.append(f"tier={event.tier}i")
    if event.value is not None and math.isfinite(event.value):
        fields.append(f"value={event.value!r}")
    return f"{key} {','.join(fields)} {to_millis(event.at)}"


Deliver = Callable[[Sequence[AlarmEvent]], Awaitable[None]]


class AlarmTransitions:
    """The alarm store as an event source: the forwardable events among its transitions,
    with the lanes' cursors in its meta table."""

    def __init__(self, store: AlarmStore) -> None:
        self._store = store

    def after(self, cursor: int, limit: int) -> Page[AlarmEvent]:
        transitions = self._store.transitions_after(cursor, limit)
        if not transitions:
            return Page((), None, 0)
        alarm_ids = sorted({row.alarm_id for row in transitions if row.alarm_id})
        events = events_from(transitions, self._store.alarms_by_id(alarm_ids))
        return Page(events, transitions[-1].seq, len(transitions))

    def read_cursor(self, key: str) -> int:
        return int(self._store.get_meta(key) or 0)

    def save_cursor(self, key: str, seq: int) -> None:
        self._store.set_meta(key, str(seq))


class AlarmEventLane(EventLane[AlarmEvent]):
    """Sends alarm events after a persisted cursor until cancelled; see the module docstring."""

    def __init__(
        self,
        name: str,
        store: AlarmStore,
        deliver: Deliver,
        clock: Clock,
        *,
        batch: int = 500,
        idle_s: float = 2.0,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(
            name, "alarm_events", AlarmTransitions(store), deliver, clock,
            batch=batch, idle_s=idle_s, backoff=backoff,
        )  # fmt: skip
