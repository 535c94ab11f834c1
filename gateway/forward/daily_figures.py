"""Daily figures to the county: each probe's exact figures of each local day, from this
gateway's own store, sent once each and again whenever late data or a clock correction
changes a day.

The county's monthly report reads these (`analysis.daily`) instead of every raw point. A day is
folded with the month it belongs to (`analysis.accumulator.SeriesAccumulator` cut at the local
midnights), so excursion runs, the WHO durations and the held reading carry across midnight
exactly as they do when the county folds the month's raw points, and the days add up to the
month. A day is complete once its end plus the longest gap a reading may hold over has passed.

The lane recomputes the current month, the previous one during the first `RECHECK_DAYS` of a
month (late data and corrections land there) and any earlier one not yet sent whole (a server
unreachable across a month's end), every `period_s` and just after each local midnight. What
it sent is remembered per sink, probe and day (a digest of the figures and their revision) in
the readings file's `meta`: an unchanged day is not sent again; a changed one is
sent as the next revision, at the day's local midnight + the revision in milliseconds. The
county folds the last revision of each day (`analysis.daily.MonthFold`): VictoriaMetrics
cannot overwrite a sample (of two at one time it keeps either), so a correction is a new
sample rather than an overwrite, on every engine alike; a replay after a crash rewrites the same
revision at the same time. The point is `coldchain_daily` (tags as the readings'; fields in
`analysis.daily`), or over MQTT a JSON object on `<prefix>/<unit>/daily` with `revision`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from analysis.accumulator import SeriesAccumulator
from analysis.daily import MANUAL, MEASUREMENT, day_starts, line_fields
from analysis.metrics import REFRIGERATED, Limits, SeriesStats
from gateway.core.backoff import Backoff
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import Clock
from gateway.core.compartments import CompartmentKind, find_compartment
from gateway.core.errors import StoreError
from gateway.forward.errors import ForwardError, RetryableError
from gateway.forward.line_protocol import LineEncoder, series_key
from gateway.forward.tags import Configured, Identity
from gateway.storage.readings import ReadingStore, from_millis, to_millis
from probes.reading import STATUS_CODES

log = logging.getLogger(__name__)

KIND = "daily_figures"
DAY_MS = 86_400_000
RECHECK_DAYS = 7
MAX_MONTHS = 13
_PAGE = 200_000


@dataclass(frozen=True, slots=True)
class DayFigures:
    probe: str
    day_ms: int
    stats: SeriesStats
    revision: int = 0
    """How many times the day was sent with other figures before: the point's time is the
    day's start + `revision` ms."""

    @property
    def subject(self) -> str:
        return self.probe

    def fields(self) -> str:
        return line_fields(self.stats)


@dataclass(frozen=True, slots=True)
class ManualDay:
    """A compartment's twice-daily manual record on one day: half-days recorded, of those
    due (`coldchain_daily_manual`)."""

    fridge: str
    compartment: str
    day_ms: int
    recorded: int
    due: int
    revision: int = 0

    @property
    def subject(self) -> str:
        return f"{self.fridge}/{self.compartment}"

    def fields(self) -> str:
        return f"recorded={self.recorded}i,due={self.due}i"


Daily = DayFigures | ManualDay
#: (unit, fridge, compartment) -> (half-days recorded, due) of the manual record in [start, end).
ManualOf = Callable[[int, int], Mapping[tuple[str, str, str], tuple[int, int]]]


LimitsOf = Callable[[str], Limits]


def month_of(moment_ms: int, tz: ZoneInfo = CLINIC_TZ) -> tuple[int, int]:
    """[start, end) ms of the local month `moment_ms` falls in."""
    local = datetime.fromtimestamp(moment_ms / 1000, tz)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _month_readings(
    store: ReadingStore, probe: str, start_ms: int, end_ms: int
) -> Iterator[tuple[int, float | None, int, bool]]:
    """(ms, temperature, status, clock synced) in time order, one per millisecond: of
    readings stamped alike the last recorded, as a server keeps the last point written at a
    series' time."""
    ok = STATUS_CODES
    for low in range(start_ms, end_ms, DAY_MS):
        rows = store.readings(
            probe, from_millis(low), from_millis(min(low + DAY_MS, end_ms)), _PAGE
        )
        previous: tuple[int, float | None, int, bool] | None = None
        for item in rows:
            reading = item.reading
            point = (
                to_millis(reading.taken_at),
                reading.temperature,
                ok[reading.status],
                reading.clock_synced,
            )
            if previous is not None and previous[0] != point[0]:
                yield previous
            previous = point
        if previous is not None:
            yield previous


def compute_days(
    store: ReadingStore,
    probes: Sequence[str],
    limits_of: LimitsOf,
    month: tuple[int, int],
    upto_ms: int,
    *,
    interval_ms: int = 60_000,
    max_gap_ms: int = 0,
    tz: ZoneInfo = CLINIC_TZ,
) -> list[DayFigures]:
    """The complete days of `month` (those whose end + the longest hold is before `upto_ms`)
    of each probe, folded from the store. A day without any reading is left out: the county
    counts a day nobody reported as one without data, and names the clinic."""
    start, end = month
    max_gap = max_gap_ms or 3 * interval_ms
    midnights = day_starts(start, end, tz)
    complete = [day for day, after in zip(midnights, [*midnights[1:], end], strict=True)
                if after + max_gap <= upto_ms]  # fmt: skip
    if not complete:
        return []
    until = min(end, complete[-1] + DAY_MS + max_gap)
    out: list[DayFigures] = []
    for probe in probes:
        acc = SeriesAccumulator(
            limits_of(probe), start, end, interval_ms, max_gap, cuts=midnights[1:]
        )
        for t, temperature, status, synced in _month_readings(store, probe, start, until):
            acc.add(t, temperature, status, synced=synced)
        wanted = set(complete)
        out += [
            DayFigures(probe, day, stats)
            for day, stats in acc.periods()
            if day in wanted and (stats.ok or stats.faults or stats.covered_ms)
        ]
    return out


def limits_from(identity: Identity, ranges: Mapping[str, Limits]) -> LimitsOf:
    """A probe's limits by its compartment's kind (refrigerated when unknown)."""
    return lambda probe: ranges.get(identity.of(probe).kind or "", REFRIGERATED)


def limits_from_settings(settings: Configured) -> LimitsOf:
    """A probe's limits: its compartment's configured range (the WHO rules for refrigerated
    compartments); refrigerated for a probe in no compartment."""
    limits: dict[str, Limits] = {}
    for probe in settings.probes:
        try:
            compartment = find_compartment(settings.fridges, probe.compartment)[1]
        except KeyError:
            continue
        who = compartment.kind is CompartmentKind.REFRIGERATED
        limits[probe.code] = Limits(compartment.min_c, compartment.max_c, who=who)
    return lambda probe: limits.get(probe, REFRIGERATED)


Deliver = Callable[[Sequence[Daily]], Awaitable[None]]


class DailyFiguresLane:
    """Recomputes the recent days and sends those not yet sent as they are now (module
    docstring); `deliver` raises `ForwardError` when the server does not take them."""

    def __init__(
        self,
        name: str,
        store: ReadingStore,
        identity: Identity,
        deliver: Deliver,
        clock: Clock,
        *,
        limits_of: LimitsOf,
        manual_of: ManualOf | None = None,
        interval_ms: int = 60_000,
        period_s: float = 3600.0,
        batch: int = 500,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self._store = store
        self._identity = identity
        self._deliver = deliver
        self._clock = clock
        self._limits_of = limits_of
        self._manual_of = manual_of
        self._interval_ms = interval_ms
        self._period_s = period_s
        self._batch = batch
        self._backoff = backoff or Backoff(1.0, 300.0)
        self._sent_key = f"forward.{KIND}.{name}.sent_through"
        self.sent = 0
        self.last_error: str | None = None

    def _key(self, day: Daily) -> str:
        local = datetime.fromtimestamp(day.day_ms / 1000, CLINIC_TZ).date().isoformat()
        return f"forward.{KIND}.{self.name}.{day.subject}.{local}"

    def _months(self, now_ms: int) -> list[tuple[int, int]]:
        """The months to recompute: the current one, the previous one during its first
        `RECHECK_DAYS`, and every earlier one not yet sent whole (a county server unreachable
        across a month's end; at most `MAX_MONTHS` back), none ended before the first reading."""
        current = month_of(now_ms)
        sent = self._store.get_meta(self._sent_key)
        oldest = self._store.readings(limit=1)
        first_ms = to_millis(oldest[0].reading.taken_at) if oldest else now_ms
        months = [current]
        while len(months) < MAX_MONTHS:
            before = month_of(months[0][0] - 1)
            if before[1] <= first_ms:
                break
            recent = now_ms - current[0] < RECHECK_DAYS * DAY_MS and len(months) == 1
            if not recent and sent is not None and before[0] <= int(sent):
                break
            months.insert(0, before)
        return months

    def _settled(self, now_ms: int) -> int:
        """The start of the latest month no later step recomputes once all is sent."""
        previous = month_of(month_of(now_ms)[0] - 1)
        if now_ms - month_of(now_ms)[0] < RECHECK_DAYS * DAY_MS:
            return month_of(previous[0] - 1)[0]
        return previous[0]

    def _manual_days(self, month: tuple[int, int], now_ms: int) -> list[ManualDay]:
        """The manual record of each compartment on each day of `month` that has ended, from
        the day of the gateway's first reading on (before it, nothing was due of it)."""
        oldest = self._store.readings(limit=1)
        if self._manual_of is None or not oldest:
            return []
        first = to_millis(oldest[0].reading.taken_at)
        starts = day_starts(*month)
        out = []
        for start, end in zip(starts, [*starts[1:], month[1]], strict=True):
            if end <= first:
                continue
            if end > now_ms:
                break
            for (_, fridge, compartment), (recorded, due) in self._manual_of(start, end).items():
                if due:
                    out.append(ManualDay(fridge, compartment, start, recorded, due))
        return out

    async def pending(self, now_ms: int) -> list[tuple[Daily, str]]:
        """The recent complete days whose figures differ from those last sent, each with its
        revision and what to remember once sent. Folds one probe's month at a time, giving the
        event loop a turn between them (a month of minute readings is a fraction of a second
        on a Pi)."""
        months = self._months(now_ms)
        probes = sorted(set(self._identity.probes) | set(self._store.latest_by_probe()))
        days: list[Daily] = []
        for month in months:
            days += self._manual_days(month, now_ms)
            for probe in probes:
                days += compute_days(
                    self._store, [probe], self._limits_of, month, now_ms,
                    interval_ms=self._interval_ms,
                )  # fmt: skip
                await asyncio.sleep(0)
        out = []
        for day in days:
            digest = hashlib.sha256(day.fields().encode()).hexdigest()[:16]
            sent = (self._store.get_meta(self._key(day)) or "").split()
            if sent and sent[0] == digest:
                continue
            revision = int(sent[1]) + 1 if len(sent) == 2 else 0
            out.append((replace(day, revision=revision), f"{digest} {revision}"))
        return out

    async def step(self) -> float:
        """Send what changed; the seconds until the next step."""
        now_ms = int(self._clock.now().timestamp() * 1000)
        try:
            pending = await self.pending(now_ms)
            for first in range(0, len(pending), self._batch):
                chunk = pending[first : first + self._batch]
                await self._deliver([day for day, _ in chunk])
                for day, digest in chunk:
                    self._store.set_meta(self._key(day), digest)
                self.sent += len(chunk)
                await asyncio.sleep(0)
        except (StoreError, ForwardError) as error:
            retry = error.retry_after if isinstance(error, RetryableError) else None
            if self.last_error is None:
                log.warning("daily figures to %s: %s; kept for a later attempt", self.name, error)
            self.last_error = str(error)
            return max(retry or 0.0, self._backoff.next_delay())
        try:
            self._store.set_meta(self._sent_key, str(self._settled(now_ms)))
        except StoreError as error:
            log.warning("daily figures to %s: %s; the months are checked again", self.name, error)
        self.last_error = None
        self._backoff.reset()
        return self._until_next(now_ms)

    def _until_next(self, now_ms: int) -> float:
        """Seconds to the next regular step or just after the next day completes."""
        midnight = day_starts(now_ms, now_ms + 2 * DAY_MS)[0]
        after_midnight = midnight + 3 * self._interval_ms + 60_000 - now_ms
        return min(self._period_s, max(1.0, after_midnight / 1000))

    async def run(self) -> None:
        while True:
            delay = await self.step()
            await self._clock.sleep(delay)


def daily_lines(days: Sequence[Daily], identity: Identity) -> bytes:
    """Days as line protocol: `coldchain_daily` (tags as the readings') for a probe's figures,
    `coldchain_daily_manual` (unit, region, gateway, fridge, compartment) for a manual record."""
    encoder = LineEncoder(identity, MEASUREMENT)
    lines = []
    for day in days:
        if isinstance(day, DayFigures):
            prefix = encoder.prefix(day.probe)
        else:
            place = (("fridge", day.fridge), ("compartment", day.compartment))
            prefix = series_key(MANUAL, (*identity.tags(), *place)) + " "
        lines.append(f"{prefix}{day.fields()} {day.day_ms + day.revision}")
    return "\n".join(lines).encode()


def daily_json(day: Daily, identity: Identity) -> dict[str, object]:
    """One day as the MQTT JSON object: placement, day, revision and the same fields
    (`probe` for a probe's figures; a manual record has none)."""
    if isinstance(day, DayFigures):
        tags = identity.of(day.probe)
        place = {"fridge": tags.fridge, "compartment": tags.compartment, "kind": tags.kind}
        place["probe"] = day.probe
    else:
        place = {"fridge": day.fridge, "compartment": day.compartment}
    fields = dict(part.split("=", 1) for part in day.fields().split(","))
    return {
        **dict(identity.tags()),
        **place,
        "day": datetime.fromtimestamp(day.day_ms / 1000, CLINIC_TZ).date().isoformat(),
        "day_ms": day.day_ms,
        "revision": day.revision,
        **{name: _number(value) for name, value in fields.items()},
    }


def _number(text: str) -> int | float:
    return int(text[:-1]) if text.endswith("i") else float(text)
