"""Alarm events in InfluxDB, as the county reads them, and the per-alarm fold.

The gateways write them with `gateway.forward.alarm_events.alarm_event_line`; the schema, one
point per alarm transition::

    coldchain_alarm,compartment=<name>,condition=<ConditionKind>,event=<event>,fridge=<code>,
                    gateway=<number>,probe=<code>,region=<6 digits>,unit=<10 digits>,
                    who=<person id>
                    alarm="<alarm id>",alarm_no=<int>i,seq=<int>i,tier=<int>i,
                    value=<float> <event time, ms since the epoch>

- `event` is one of opened, reopened, tier_notified, acknowledged, cleared, closed;
- `tier` only on tier_notified (1, 2, 3); `who` only on acknowledged/closed (when known);
  `value` optional (the most extreme temperature, a battery level...);
- empty tags (a gateway alarm has no fridge/compartment/probe) are left out, as in readings;
- the alarm id is a field, not a tag, so alarms do not multiply series; `alarm_no` (the
  alarm's number on its gateway) carries it as a number too, and `who` is a tag (bounded by the
  clinic's alarm people), because VictoriaMetrics keeps no string field. Two events of one
  series at the same millisecond would overwrite each other; each transition is persisted
  once with its own time, so the gateways do not emit such pairs.

Acknowledgement latency = first `acknowledged` − `opened` of the same alarm id; escalation to
tier 2/3 = an alarm with a `tier_notified` event of tier 2/3.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from alerts.model import ConditionKind

MEASUREMENT = "coldchain_alarm"
CONDITIONS = tuple(kind.value for kind in ConditionKind)


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One event as read back (tags and fields)."""

    at_ms: int
    alarm: str
    event: str
    condition: str
    unit: str
    region: str = ""
    fridge: str = ""
    compartment: str = ""
    tier: int | None = None
    who: str | None = None


@dataclass(slots=True)
class AlarmFacts:
    """What the report needs of one alarm."""

    alarm: str
    condition: str
    unit: str
    region: str
    fridge: str
    compartment: str
    opened_ms: int | None = None
    acknowledged_ms: int | None = None
    tiers: set[int] = field(default_factory=set)

    @property
    def ack_latency_min(self) -> float | None:
        if self.opened_ms is None or self.acknowledged_ms is None:
            return None
        return (self.acknowledged_ms - self.opened_ms) / 60_000


def fold_alarms(events: Iterable[AlarmEvent], start_ms: int, end_ms: int) -> list[AlarmFacts]:
    """The alarms opened in [start, end), with their first acknowledgement and tiers reached.

    Events of alarms opened outside the period are ignored; acknowledgements may come after
    the end (the caller reads a little past it)."""
    by_id: dict[str, AlarmFacts] = {}
    for item in events:
        facts = by_id.get(item.alarm)
        if facts is None:
            facts = by_id[item.alarm] = AlarmFacts(
                item.alarm, item.condition, item.unit, item.region, item.fridge, item.compartment
            )
        if item.event == "opened":
            if facts.opened_ms is None or item.at_ms < facts.opened_ms:
                facts.opened_ms = item.at_ms
        elif item.event == "acknowledged":
            if facts.acknowledged_ms is None or item.at_ms < facts.acknowledged_ms:
                facts.acknowledged_ms = item.at_ms
        elif item.event == "tier_notified" and item.tier is not None:
            facts.tiers.add(item.tier)
    return sorted(
        (f for f in by_id.values() if f.opened_ms is not None and start_ms <= f.opened_ms < end_ms),
        key=lambda f: (f.opened_ms or 0, f.alarm),
    )


LATENCY_BUCKETS = ("≤30", "30–60", "60–120", ">120", "未确认")


def latency_bucket(minutes: float | None) -> str:
    """≤30 / 30–60 / 60–120 / >120 minutes (upper bounds inclusive), or 未确认 (never)."""
    if minutes is None:
        return "未确认"
    if minutes <= 30:
        return "≤30"
    if minutes <= 60:
        return "30–60"
    if minutes <= 120:
        return "60–120"
    return ">120"
