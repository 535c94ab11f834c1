"""GATEWAY_LINK conditions from the bus drivers' health.

A bus whose link cannot be opened (`link_error` set, not connected) for `hold_off_s` raises a
GATEWAY_LINK condition named after the bus; the rules give each probe `via = its bus`, so the
escalation suppresses the offline alarms of that bus's probes while the link alarm is active.
The link clears as soon as the driver reports it connected again. A driver that has not tried
yet (not connected, no error) says nothing either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from alerts.model import (
    Condition,
    ConditionChange,
    ConditionCleared,
    ConditionKind,
    ConditionRaised,
)


class LinkHealth(Protocol):
    @property
    def connected(self) -> bool: ...

    @property
    def link_error(self) -> str | None: ...


class LinkWatch:
    """Turns successive observations of each bus's health into raised/cleared conditions."""

    def __init__(self, hold_off_s: float, raised: Iterable[str] = ()) -> None:
        self._hold_off = timedelta(seconds=hold_off_s)
        self._down_since: dict[str, datetime] = {}
        self._raised: set[str] = set(raised)

    @property
    def down(self) -> list[str]:
        return sorted(self._raised)

    def observe(self, buses: Mapping[str, LinkHealth], now: datetime) -> list[ConditionChange]:
        changes: list[ConditionChange] = []
        for name, health in sorted(buses.items()):
            condition = Condition(ConditionKind.GATEWAY_LINK, name)
            if health.connected:
                since = self._down_since.pop(name, now)
                if name in self._raised:
                    self._raised.discard(name)
                    changes.append(ConditionCleared(condition, since, now))
                continue
            if health.link_error is None:
                continue
            since = self._down_since.setdefault(name, now)
            if name not in self._raised and now - since >= self._hold_off:
                self._raised.add(name)
                changes.append(
                    ConditionRaised(condition, since, now, None, health.link_error or "")
                )
        return changes
