"""The twice-daily manual temperature record (温度记录表): rules and reminders. Pure.

Besides the probes, the vaccine manager (or technician) reads each fridge compartment's
thermometer every morning and afternoon and writes it on the paper form. Here the two readings
of a day are the morning (上午, before noon, China time) and afternoon (下午) records of one
compartment; each is refused with its reason when:

- the temperature cannot be a thermometer reading in a vaccine fridge (below -60 or above 60
  °C: a typing error);
- it is dated in the future, or more than a day back (a late entry of a paper note is fine);
- that half-day already has its record, or another record of the compartment is under 6 hours
  away (the form asks for two readings at least 6 hours apart).

A plausible value outside the compartment's band is accepted and marked as an excursion: the
record is evidence, and the alarm path handles the fridge. A record is missing once its due
time has passed: the morning one at 11:00, the afternoon one at 17:00.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.errors import GatewayError


class HalfDay(StrEnum):
    MORNING = "am"
    AFTERNOON = "pm"

    @property
    def label(self) -> str:
        return "上午" if self is HalfDay.MORNING else "下午"


#: When a half-day's record is overdue (China time).
DUE: dict[HalfDay, time] = {HalfDay.MORNING: time(11, 0), HalfDay.AFTERNOON: time(17, 0)}
MIN_APART = timedelta(hours=6)
PLAUSIBLE_C = (-60.0, 60.0)
#: How far back a reading may be entered (a paper note typed in later).
MAX_LATE = timedelta(days=1)
#: Clock differences between the phone and the gateway.
FUTURE_SLACK = timedelta(minutes=5)


class ManualReadingRefusedError(GatewayError):
    """A record refused; `field` names the input at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ManualReading:
    """One thermometer reading of one compartment; `recorder` is the account that entered it
    and `recorder_name` the name printed in the 记录人 column."""

    compartment: str
    day: date
    half: HalfDay
    taken_at: datetime
    temperature: float
    excursion: bool
    recorder: str
    recorder_name: str
    recorded_at: datetime
    note: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Missing:
    """A half-day whose record was due at `due_at` and is not there."""

    compartment: str
    day: date
    half: HalfDay
    due_at: datetime


def half_of(moment: datetime) -> tuple[date, HalfDay]:
    """The China-time day and half-day a reading taken at `moment` belongs to."""
    local = moment.astimezone(CLINIC_TZ)
    return local.date(), HalfDay.MORNING if local.hour < 12 else HalfDay.AFTERNOON


def due_at(day: date, half: HalfDay) -> datetime:
    return datetime.combine(day, DUE[half], CLINIC_TZ)


def is_excursion(temperature: float, min_c: float | None, max_c: float | None) -> bool:
    return (min_c is not None and temperature < min_c) or (
        max_c is not None and temperature > max_c
    )


def check_entry(
    compartment: str,
    temperature: float,
    taken_at: datetime,
    now: datetime,
    others: Iterable[ManualReading],
) -> tuple[date, HalfDay]:
    """The day and half-day of a new record, or `ManualReadingRefusedError` with the reason;
    `others` are the compartment's records around `taken_at`."""
    low, high = PLAUSIBLE_C
    if not low <= temperature <= high:
        raise ManualReadingRefusedError(
            "temperature",
            f"{temperature} °C cannot be a thermometer reading in a vaccine fridge (allowed"
            f" {low:g} to {high:g} °C); check the number typed",
        )
    if taken_at > now + FUTURE_SLACK:
        raise ManualReadingRefusedError(
            "taken_at", f"{_local(taken_at)} is in the future; enter the time the reading was taken"
        )
    if taken_at < now - MAX_LATE:
        raise ManualReadingRefusedError(
            "taken_at",
            f"{_local(taken_at)} is more than {MAX_LATE.days} day back; readings older than that"
            " stay on the paper form",
        )
    day, half = half_of(taken_at)
    for other in others:
        if other.compartment != compartment:
            continue
        if (other.day, other.half) == (day, half):
            raise ManualReadingRefusedError(
                "taken_at",
                f"the {half.label} record of {compartment} for {day} was already entered"
                f" ({_local(other.taken_at)}, {other.temperature} °C, by {other.recorder_name})",
            )
        apart = abs(taken_at - other.taken_at)
        if apart < MIN_APART:
            hours = apart.total_seconds() / 3600
            earliest = other.taken_at + MIN_APART
            raise ManualReadingRefusedError(
                "taken_at",
                f"{_local(taken_at)} is {hours:.1f} h from the record at {_local(other.taken_at)};"
                f" the two daily readings of {compartment} must be at least"
                f" {MIN_APART.total_seconds() / 3600:g} h apart (the next from"
                f" {_local(earliest)})",
            )
    return day, half


def missing(
    recorded: Iterable[tuple[str, date, HalfDay]],
    compartments: Sequence[str],
    since: datetime,
    now: datetime,
) -> list[Missing]:
    """Half-days of `compartments` due between `since` and `now` without a record, oldest
    first. `recorded` holds (compartment, day, half) of the records there are."""
    have = set(recorded)
    out = []
    day = since.astimezone(CLINIC_TZ).date()
    last = now.astimezone(CLINIC_TZ).date()
    while day <= last:
        for half in HalfDay:
            due = due_at(day, half)
            if not since <= due <= now:
                continue
            out += [
                Missing(ref, day, half, due) for ref in compartments if (ref, day, half) not in have
            ]
        day += timedelta(days=1)
    return out


def _local(moment: datetime) -> str:
    return moment.astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M")
