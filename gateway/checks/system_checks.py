"""The twice-daily system check of seed 002 (日常登录管理): each day, the responsible people look
at the system at least twice, 6 hours apart, to see that the fridges run and stay in range.
Pure.

A look is a dashboard view (GET /api/fridges, which every page that shows the fridges calls)
by an account of one of the three tiers of alarm responsibility (manager, head, unit head);
`gateway.storage.checks` keeps them. A day is met when its first and last look, in China time,
are at least 6 hours apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from gateway.auth.policy import Role
from gateway.core.clinic_time import CLINIC_TZ

MIN_APART = timedelta(hours=6)
RESPONSIBLE = frozenset({Role.MANAGER, Role.HEAD, Role.UNIT_HEAD})
THROTTLE = timedelta(minutes=10)  # one look per account is kept per 10 minutes


@dataclass(frozen=True, slots=True)
class DayCheck:
    day: date
    looks: int
    first: datetime | None
    last: datetime | None
    who: tuple[str, ...]

    @property
    def met(self) -> bool:
        return (
            self.first is not None
            and self.last is not None
            and (self.last - self.first >= MIN_APART)
        )

    def to_json(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "looks": self.looks,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "who": list(self.who),
            "met": self.met,
        }


def responsible(roles: Iterable[Role]) -> bool:
    return any(role in RESPONSIBLE for role in roles)


def day_checks(looks: Iterable[tuple[datetime, str]], first: date, last: date) -> list[DayCheck]:
    """Every day of [first, last] with its looks (a day without any is not met)."""
    by_day: dict[date, list[tuple[datetime, str]]] = defaultdict(list)
    for at, who in looks:
        by_day[at.astimezone(CLINIC_TZ).date()].append((at.astimezone(CLINIC_TZ), who))
    days = []
    day = first
    while day <= last:
        seen = sorted(by_day.get(day, []))
        days.append(DayCheck(
            day, len(seen), seen[0][0] if seen else None, seen[-1][0] if seen else None,
            tuple(sorted({who for _, who in seen})),
        ))  # fmt: skip
        day += timedelta(days=1)
    return days
