"""The report's figures per compartment, fridge, clinic and region, and its rankings. Pure.

Both sources (central InfluxDB, a gateway's own stores) end in `build_report`: a list of
probe figures (`ProbeFigures`) plus the month's alarms (`AlarmFacts`) and, when known, the doses
its excursions exposed (`ExposedDoses`: from `coldchain_exposure`, or the gateway's ledger).

A fridge's **problems** = excursions + WHO recorder alarms + alarms opened, plus one when its
data completeness is below `COMPLETENESS_TARGET` (a fridge with no data at all is a problem,
never a perfect month). A **problem device** has at least one problem; a region's **share**
is problem fridges / fridges monitored in it.

A report is never silently empty: its **doubts** say, at the top, why its figures cannot be
trusted as they stand (a month without a single reading, most readings stamped by an
unsynchronised clock); `coldchain report --strict` fails on them. The manual-record
compliance (the twice-daily thermometer record) is known for a clinic's own report only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from analysis.alarm_events import LATENCY_BUCKETS, AlarmFacts, latency_bucket
from analysis.metrics import SeriesStats, merge_all

COMPLETENESS_TARGET = 90.0
LEVELS = ("compartment", "fridge", "clinic", "region")


#: One day of a probe for its curve: (day start ms, min °C, max °C, mean °C).
DayPoint = tuple[int, float, float, float]


@dataclass(frozen=True, slots=True, order=True)
class Place:
    """Where a probe sits; empty strings for the levels above the row's own."""

    region: str = ""
    unit: str = ""
    fridge: str = ""
    compartment: str = ""
    kind: str = ""

    def at(self, level: str) -> Place:
        if level == "region":
            return Place(self.region)
        if level == "clinic":
            return Place(self.region, self.unit)
        if level == "fridge":
            return Place(self.region, self.unit, self.fridge)
        return self


def fridge_key(unit: str, fridge: str) -> str:
    """A fridge's key in `Report.names`: `UNIT/FRIDGE` (its unit's code, its own code); a key
    with a `/` names a fridge, any other a unit or a region."""
    return f"{unit}/{fridge}"


@dataclass(frozen=True, slots=True)
class ProbeFigures:
    place: Place
    probe: str
    stats: SeriesStats


@dataclass(frozen=True, slots=True)
class ExposedDoses:
    """Doses an excursion that began in the month exposed of one vaccine, and where."""

    region: str
    unit: str
    fridge: str
    compartment: str
    doses: int


@dataclass(slots=True)
class AlarmSummary:
    total: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    latency: Counter[str] = field(default_factory=Counter)
    tier2: int = 0
    tier3: int = 0

    def add(self, facts: AlarmFacts) -> None:
        self.total += 1
        self.by_type[facts.condition] += 1
        self.latency[latency_bucket(facts.ack_latency_min)] += 1
        self.tier2 += 2 in facts.tiers
        self.tier3 += 3 in facts.tiers


@dataclass(frozen=True, slots=True)
class ManualRecords:
    """Half-days of the twice-daily manual record: how many had their record, of those due."""

    recorded: int = 0
    due: int = 0

    def __add__(self, other: ManualRecords) -> ManualRecords:
        return ManualRecords(self.recorded + other.recorded, self.due + other.due)

    @property
    def words(self) -> str:
        if self.due <= 0:
            return "无应记录的半天"
        share = 100.0 * self.recorded / self.due
        return f"{share:.0f}%（{self.recorded}/{self.due} 个半天）"


NO_DATA_DOUBT = (
    "本月没有任何读数：下表中的数字不代表冰箱温度正常；请检查探头、总线和网关在本月是否运行"
)


@dataclass(slots=True)
class Row:
    level: str
    place: Place
    stats: SeriesStats
    alarms: AlarmSummary
    fridges: int = 0
    problem_fridges: int = 0
    kinds: frozenset[str] = frozenset()
    doses_exposed: int = 0
    manual: ManualRecords | None = None
    """The manual record's compliance in this row's compartments; None: not known."""

    @property
    def mixed(self) -> bool:
        """Refrigerated and frozen together: temperature figures would mean nothing."""
        return len(self.kinds) > 1

    @property
    def problems(self) -> int:
        s = self.stats
        low = 1 if s.completeness < COMPLETENESS_TARGET else 0
        return s.excursions + s.who_heat + s.who_freeze + self.alarms.total + low

    @property
    def problem_share(self) -> float:
        return 100.0 * self.problem_fridges / self.fridges if self.fridges else 0.0


@dataclass(slots=True)
class Report:
    title: str
    month: str
    scope: str
    start_ms: int
    end_ms: int
    interval_s: float
    rows: dict[str, list[Row]]
    device_ranking: list[Row]
    region_ranking: list[Row]
    notes: list[str] = field(default_factory=list)
    latency_buckets: tuple[str, ...] = LATENCY_BUCKETS
    exposure_shown: bool = False
    """Doses exposed are known (a county report; a clinic report with a ledger)."""
    doubts: list[str] = field(default_factory=list)
    """Why the figures cannot be trusted as they stand; shown first, failing `--strict`."""
    manual_shown: bool = False
    """The manual record's compliance is known (a clinic report)."""

    @property
    def manual_records(self) -> str:
        """The manual record's compliance over the whole report, in words."""
        if not self.manual_shown:
            return "不可用（人工记录保存在各单位网关上，见各单位的月报）"
        total = sum((row.manual or ManualRecords() for row in self.rows["region"]), ManualRecords())
        return total.words

    names: dict[str, str] = field(default_factory=dict)
    """Unit and region codes -> names (a units file), and `UNIT/FRIDGE` (a unit code and a
    fridge code) -> the fridge's name (a units file; a clinic's configuration); codes without a
    name show as codes."""
    late: list[tuple[str, int]] = field(default_factory=list)
    """(unit, days without daily figures) of the clinics that reported fewer days than the
    month has, most missing first."""
    curves: dict[Place, list[tuple[str, list[DayPoint]]]] = field(default_factory=dict)
    """Per ranked problem fridge: (compartment/probe, its days) to draw."""

    def name(self, code: str) -> str:
        return self.names.get(code, "")

    def fridge_name(self, place: Place) -> str:
        return self.names.get(fridge_key(place.unit, place.fridge), "") if place.fridge else ""

    def fridge_label(self, place: Place) -> str:
        """The fridge's name with its code beside it (`1号医用冰箱（F1）`), or the code."""
        name = self.fridge_name(place)
        return f"{name}（{place.fridge}）" if name else place.fridge

    @property
    def units_named(self) -> bool:
        return any("/" not in code for code in self.names)

    @property
    def fridges_named(self) -> bool:
        return any("/" in code for code in self.names)

    @property
    def doses_exposed(self) -> int:
        return sum(row.doses_exposed for row in self.rows["region"])


def _manual_by_level(
    manual: Mapping[tuple[str, str, str], ManualRecords],
    regions: dict[str, str],
    places: dict[tuple[str, str, str], Place],
) -> dict[str, dict[Place, ManualRecords]]:
    """The compartments' manual records summed at every level."""
    by_level: dict[str, dict[Place, ManualRecords]] = {level: {} for level in LEVELS}
    for (unit, fridge, compartment), records in manual.items():
        place = _place("", unit, fridge, compartment, regions=regions, places=places)
        for level in LEVELS:
            key = place.at(level)
            by_level[level][key] = by_level[level].get(key, ManualRecords()) + records
    return by_level


def _alarm_place(
    facts: AlarmFacts, regions: dict[str, str], places: dict[tuple[str, str, str], Place]
) -> Place:
    """The probes' place of an alarm (kind included), or one built from its own tags."""
    return _place(
        facts.region, facts.unit, facts.fridge, facts.compartment, regions=regions, places=places
    )


def _place(
    region: str,
    unit: str,
    fridge: str,
    compartment: str,
    *,
    regions: dict[str, str],
    places: dict[tuple[str, str, str], Place],
) -> Place:
    known = places.get((unit, fridge, compartment))
    if known is not None:
        return known
    return Place(region or regions.get(unit, ""), unit, fridge, compartment)


def _count_fridges(rows: list[Row], fridge_rows: list[Row], level: str) -> None:
    """Each row's fridges and problem fridges, in one pass over the fridges."""
    fridges_in: dict[Place, list[Row]] = {}
    for fridge in fridge_rows:
        fridges_in.setdefault(fridge.place.at(level), []).append(fridge)
    for row in rows:
        mine = fridges_in.get(row.place, [])
        row.fridges = len(mine)
        row.problem_fridges = sum(1 for f in mine if f.problems)


def build_report(
    probes: Iterable[ProbeFigures],
    alarms: Iterable[AlarmFacts],
    *,
    title: str,
    month: str,
    scope: str,
    start_ms: int,
    end_ms: int,
    interval_s: float,
    notes: Iterable[str] = (),
    exposures: Iterable[ExposedDoses] | None = None,
    top: int = 20,
    doubts: Iterable[str] = (),
    manual: Mapping[tuple[str, str, str], ManualRecords] | None = None,
) -> Report:
    """`exposures` None: the doses exposed are unknown and left out of the report. `manual`:
    the manual record's compliance per (unit, fridge, compartment); None: not known."""
    probe_list = sorted(probes, key=lambda p: (p.place, p.probe))
    regions = {p.place.unit: p.place.region for p in probe_list}
    places = {(p.place.unit, p.place.fridge, p.place.compartment): p.place for p in probe_list}
    stats: dict[str, dict[Place, list[SeriesStats]]] = {level: {} for level in LEVELS}
    kinds: dict[Place, set[str]] = {}
    for item in probe_list:
        for level in LEVELS:
            stats[level].setdefault(item.place.at(level), []).append(item.stats)
            kinds.setdefault(item.place.at(level), set()).add(item.place.kind)
    summaries: dict[str, dict[Place, AlarmSummary]] = {level: {} for level in LEVELS}
    for facts in alarms:
        place = _alarm_place(facts, regions, places)
        for level in LEVELS:
            key = place.at(level)
            if level == "compartment" and not facts.compartment:
                continue
            if level == "fridge" and not facts.fridge:
                continue
            summaries[level].setdefault(key, AlarmSummary()).add(facts)
    manual_at = _manual_by_level(manual or {}, regions, places)
    exposed: dict[str, Counter[Place]] = {level: Counter() for level in LEVELS}
    for exposure in exposures or ():
        place = _place(
            exposure.region, exposure.unit, exposure.fridge, exposure.compartment,
            regions=regions, places=places,
        )  # fmt: skip
        for level in LEVELS:
            exposed[level][place.at(level)] += exposure.doses
    rows: dict[str, list[Row]] = {}
    for level in LEVELS:
        keys = sorted(set(stats[level]) | set(summaries[level]) | set(exposed[level]))
        rows[level] = [
            Row(
                level,
                key,
                merge_all(stats[level].get(key, [])),
                summaries[level].get(key, AlarmSummary()),
                kinds=frozenset(kinds.get(key, ())),
                doses_exposed=exposed[level][key],
                manual=None if manual is None else manual_at[level].get(key, ManualRecords()),
            )
            for key in keys
        ]
    fridge_rows = rows["fridge"]
    for row in fridge_rows:
        row.fridges = 1
        row.problem_fridges = 1 if row.problems else 0
    for level in ("clinic", "region"):
        _count_fridges(rows[level], fridge_rows, level)
    device_ranking = sorted(
        (r for r in fridge_rows if r.problems),
        key=lambda r: (-r.problems, -(r.stats.above_ms + r.stats.below_ms), r.place),
    )[:top]
    region_ranking = sorted(
        (r for r in rows["region"] if r.fridges),
        key=lambda r: (-r.problem_share, -r.problem_fridges, r.place),
    )
    no_data = [] if any(item.stats.has_data for item in probe_list) else [NO_DATA_DOUBT]
    return Report(
        title,
        month,
        scope,
        start_ms,
        end_ms,
        interval_s,
        rows,
        device_ranking,
        region_ranking,
        list(notes),
        exposure_shown=exposures is not None,
        doubts=[*no_data, *doubts],
        manual_shown=manual is not None,
    )


def attach_curves(
    report: Report, days_of: Callable[[Place], list[tuple[str, list[DayPoint]]]]
) -> None:
    """The curves of the ranked problem fridges (`days_of` a fridge's place)."""
    report.curves = {row.place: days_of(row.place) for row in report.device_ranking}


def curve_of(periods: Iterable[tuple[int, SeriesStats]]) -> list[DayPoint]:
    """A probe's days with readings as curve points."""
    return [
        (day, s.min_c, s.max_c, s.sum_c / s.ok)
        for day, s in periods
        if s.ok and s.min_c is not None and s.max_c is not None
    ]
