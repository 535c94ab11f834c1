"""Stock-aware excursions on the gateway: temperatures from the readings store, stock from the
ledger, excursions from the alarm store.

While a compartment's too-warm, too-cold or probe-fault alarm is open, the compartment is on
hold (`hold_on`, which the stock ledger asks before each movement; `ledger.holds`): nothing is
received into it, moved into it or administered from it unless a manager overrode that hold
(`override_hold`). `run()` (the supervisor's task ``excursions``) follows the alarm store's
transitions: when a too-warm or too-cold alarm clears (the compartment is back in range) or
closes, the excursion from the alarm's `since` to that moment is measured on the compartment's
probes and recorded, which quarantines every package that was in the compartment meanwhile:
the hold becomes the quarantine. A hold check that finds the alarm cleared records it at once.
Its cursor is kept in the ledger file; recording is idempotent per alarm transition, so a
restart repeats nothing.
The same measurement runs on demand for any compartment and window (`measure`, `record`).
Every recorded excursion is also an event for the county (`exposures`, `ExposureEvents`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from alerts.escalation_state import Alarm, EscalationState, TransitionKind
from alerts.model import ConditionKind
from gateway.core.clock import Clock
from gateway.core.errors import GatewayError, StoreError
from gateway.forward.event_lane import Page
from gateway.forward.exposure_events import ExposureEvent, exposure_events_of
from gateway.settings import Settings
from gateway.storage.alarms import AlarmStore
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.locations import StockLocations
from gateway.storage.ledger.quarantine import Excursion, Quarantine, Thresholds
from gateway.storage.ledger.queries import (
    OVERRIDE,
    HoldOverride,
    excursions_after,
    excursions_started_between,
    hold_grant,
    read_meta,
    record_hold_override,
    write_meta,
)
from gateway.storage.ledger.requisition import Requisitions
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.readings import ReadingStore
from ledger.errors import LedgerError
from ledger.exposure import Exposure, Sample, exposure, worst
from ledger.holds import Hold, Override
from ledger.stability import StabilityTable, load_stability
from ledger.stock_errors import CompartmentNotOnHoldError
from probes.reading import ProbeStatus

if TYPE_CHECKING:
    from gateway.alarms.engine import AlarmService
    from gateway.ledgers.book import LedgerBook

log = logging.getLogger(__name__)

STABILITY_FILE = "stability.toml"
CURSOR_KEY = "excursions.alarm_transition_seq"
#: more than 30 days of one reading a minute, per probe
MAX_READINGS = 200_000
#: An excursion's source when an alarm recorded it, before the alarm's number.
ALARM_SOURCE = "alarm "
_EXCURSION_KINDS = frozenset({ConditionKind.TOO_WARM.value, ConditionKind.TOO_COLD.value})
#: The alarms that put their compartment on hold while the condition holds.
HOLD_KINDS = frozenset({ConditionKind.TOO_WARM, ConditionKind.TOO_COLD, ConditionKind.PROBE_FAULT})
_ENDS = frozenset({TransitionKind.CLEARED.value, TransitionKind.CLOSED.value})


@dataclass(frozen=True, slots=True)
class Measured:
    """An excursion window measured: against the range, and per stability threshold pair."""

    compartment: str
    exposure: Exposure
    by_thresholds: dict[Thresholds, Exposure]


def compartment_refs(settings: Settings) -> list[str]:
    return [f"{f.code}/{c.name}" for f in settings.fridges for c in f.compartments]


def manual_id(compartment: str, start: datetime, end: datetime) -> str:
    """The id of an excursion recorded on demand: the same window twice is one excursion."""
    window = f"{compartment}|{start.timestamp()}|{end.timestamp()}"
    return f"manual-{hashlib.sha256(window.encode()).hexdigest()[:12]}"


def stability_beside(config_path: Path | None, data_dir: Path) -> StabilityTable:
    """The stability file next to the configuration file, else in the data folder; none is an
    empty table (every proposal then says "no stability data")."""
    for folder in (config_path.parent if config_path else None, data_dir):
        if folder is not None and (folder / STABILITY_FILE).is_file():
            return load_stability(folder / STABILITY_FILE)
    return StabilityTable()


class ExcursionService:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        db: LedgerDB,
        stock: StockLedger,
        *,
        readings: ReadingStore,
        stability: StabilityTable,
        alarms: AlarmStore | None = None,
        alarm_state: Callable[[], EscalationState] | None = None,
        poll_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self.alarm_state = alarm_state
        self.clock = clock
        self.db = db
        self.readings = readings
        self.alarms = alarms
        self.stability = stability
        self.poll_s = poll_s
        self.locations = StockLocations(db, stock, compartment_refs(settings))
        self.quarantine = Quarantine(db, stock, self.locations, stability)
        self.requisitions = Requisitions(db, stock)
        self.exposures = ExposureEvents(self.quarantine)
        self.recorded = 0
        self.last_error: str | None = None

    # -- measuring -------------------------------------------------------------------------

    def measure(self, compartment: str, start: datetime, end: datetime) -> Measured:
        """The exposure of [start, end] on the compartment's probes (the worst probe)."""
        try:
            _, settings = self.settings.compartment(compartment)
        except KeyError:
            raise GatewayError(
                f"compartment {compartment!r} is not configured; known: "
                f"{', '.join(compartment_refs(self.settings))}"
            ) from None
        if end < start:
            raise GatewayError(f"the window ends ({end}) before it starts ({start}); swap them")
        series = [
            [
                Sample(stored.reading.taken_at, stored.reading.temperature)
                for stored in self.readings.readings(
                    probe.code, start, end + timedelta(milliseconds=1), MAX_READINGS
                )
                if stored.reading.status is ProbeStatus.OK
                and stored.reading.temperature is not None
            ]
            for probe in self.settings.probes
            if probe.compartment == compartment
        ] or [[]]
        in_range = worst([exposure(s, settings.min_c, settings.max_c, start, end) for s in series])
        by_thresholds = {
            pair: worst([exposure(s, pair[0], pair[1], start, end) for s in series])
            for pair in sorted(self.stability.thresholds())
        }
        return Measured(compartment, in_range, by_thresholds)

    def record(
        self, excursion_id: str, compartment: str, start: datetime, end: datetime, source: str
    ) -> Excursion:
        """Measure and record an excursion; its packages are quarantined from now on."""
        known = self.quarantine.excursion(excursion_id)
        if known is not None:
            return known
        measured = self.measure(compartment, start, end)
        excursion = self.quarantine.record(
            excursion_id, compartment, start, end, source=source,
            exposure=measured.exposure, by_thresholds=measured.by_thresholds,
        )  # fmt: skip
        self.recorded += 1
        log.warning(
            "excursion %s in %s (%s – %s): %d package(s) of %d batch(es), %d dose(s) quarantined",
            excursion_id, compartment, start.isoformat(), end.isoformat(),
            len(excursion.units), len(excursion.batches), excursion.doses,
        )  # fmt: skip
        return excursion

    def doses_at_risk(self, compartment: str) -> int | None:
        """For the alarm message: doses in the compartment now; None if the ledger cannot say
        (an alarm goes out without the figure rather than not at all)."""
        try:
            return self.locations.doses_in(compartment)
        except LedgerError as error:
            log.warning("doses at risk in %s unknown: %s", compartment, error)
            return None

    # -- holds -----------------------------------------------------------------------------

    def hold_on(self, compartment: str) -> Hold | None:
        """The hold on `compartment` now: its open too-warm, too-cold or probe-fault alarm,
        with the manager's override of it if any. An alarm of it that has cleared is recorded
        as an excursion first: its packages are then quarantined, not held."""
        if self.alarm_state is None:
            return None
        cleared = False
        for alarm in self.alarm_state().alarms.values():
            condition = alarm.condition
            if condition.subject != compartment or condition.kind not in HOLD_KINDS:
                continue
            if alarm.active:
                return self._hold(compartment, alarm)
            cleared = cleared or condition.kind.value in _EXCURSION_KINDS
        if cleared:
            self.follow()
        return None

    def holds(self) -> list[Hold]:
        """Every compartment on hold now."""
        found = (self.hold_on(ref) for ref in compartment_refs(self.settings))
        return [hold for hold in found if hold is not None]

    def override_hold(self, compartment: str, who: str, reason: str) -> Hold:
        """A manager lets movements through the hold on `compartment` (until its alarm
        ends); recorded with who and why. CompartmentNotOnHoldError when nothing holds it."""
        hold = self.hold_on(compartment)
        if hold is None:
            raise CompartmentNotOnHoldError(
                "compartment",
                f"{compartment} is not on hold: nothing to override; fix: check GET "
                "/api/ledger/holds",
                params={"compartment": compartment},
            )
        override = Override(who, reason, self.clock.now())
        with self.db.transaction("override a hold"):
            record_hold_override(
                self.db,
                HoldOverride(
                    override.at, compartment, hold.alarm_id, OVERRIDE, "", (), who, reason
                ),
            )
        log.warning("hold on %s (%s) overridden by %s: %s", compartment, hold.alarm, who, reason)
        return self.hold_on(compartment) or hold

    def _hold(self, compartment: str, alarm: Alarm) -> Hold:
        row = None if self.alarms is None else self.alarms.alarms_by_id([alarm.id]).get(alarm.id)
        return Hold(
            compartment, alarm.id, None if row is None else row.no, str(alarm.condition.kind),
            alarm.since, hold_grant(self.db, compartment, alarm.id),
        )  # fmt: skip

    # -- following the alarms --------------------------------------------------------------

    async def run(self) -> None:
        """Until cancelled: record the excursions of alarms that cleared or closed."""
        while True:
            self.follow()
            await self.clock.sleep(self.poll_s)

    def follow(self) -> list[Excursion]:
        """One pass over the alarm transitions after the cursor; errors wait for the next."""
        if self.alarms is None:
            return []
        found: list[Excursion] = []
        try:
            start = cursor = self._cursor()
            for row in self.alarms.transitions_after(cursor, 500):
                if row.kind in _ENDS and row.alarm_id is not None:
                    excursion = self._excursion_of(row.alarm_id, row.kind, row.seq, row.at)
                    if excursion is not None:
                        found.append(excursion)
                cursor = row.seq
            if cursor != start:
                self._save_cursor(cursor)
        except (LedgerError, StoreError, GatewayError) as error:
            # Nothing is lost: the transitions after the saved cursor are read again, and
            # recording an excursion a second time changes nothing.
            self._failed(str(error))
            return found
        self.last_error = None
        return found

    def _excursion_of(self, alarm_id: str, kind: str, seq: int, at: datetime) -> Excursion | None:
        assert self.alarms is not None
        alarm = self.alarms.alarm(alarm_id)
        if alarm is None:
            return None
        condition = alarm.data["condition"]
        if condition["kind"] not in _EXCURSION_KINDS:
            return None
        compartment = str(condition["subject"])
        if compartment not in compartment_refs(self.settings):
            return None
        source = f"{ALARM_SOURCE}{alarm.no}"
        previous = self.quarantine.last_end(source)
        if kind == TransitionKind.CLOSED.value and previous is not None:
            return None  # it cleared before it closed: that excursion is recorded
        since = datetime.fromisoformat(alarm.data["since"])
        start = since if previous is None else max(since, previous)  # reopened alarm
        cleared = alarm.data.get("cleared_at")
        end = (
            at
            if kind == TransitionKind.CLEARED.value or not cleared
            else datetime.fromisoformat(cleared)
        )
        return self.record(f"alarm-{alarm.no}-{seq}", compartment, start, max(end, start), source)

    def _failed(self, error: str) -> None:
        if self.last_error is None:
            log.error("excursions not recorded yet, retrying: %s", error)
        self.last_error = error

    def _cursor(self) -> int:
        return int(read_meta(self.db, CURSOR_KEY) or 0)

    def _save_cursor(self, seq: int) -> None:
        write_meta(self.db, {CURSOR_KEY: str(seq)})

    def health(self) -> dict[str, object]:
        return {"recorded": self.recorded, "last_error": self.last_error}


class ExposureEvents:
    """The recorded excursions as the source of the exposure lanes (`gateway.forward.
    exposure_events`), their cursors in the ledger file's meta table.

    Excursions are only ever added (never deleted; the ledger file is never vacuumed), so the
    table's rowid orders them as recorded and is the cursor. Ledger errors become `StoreError`s,
    which a lane retries."""

    def __init__(self, quarantine: Quarantine) -> None:
        self.quarantine = quarantine

    def after(self, cursor: int, limit: int) -> Page[ExposureEvent]:
        rows = self._rows(lambda db: excursions_after(db, cursor, limit))
        if not rows:
            return Page((), None, 0)
        return Page(self._events(rows), rows[-1][0], len(rows))

    def started_between(self, start: datetime, end: datetime) -> list[ExposureEvent]:
        """The events of the excursions that began in [start, end): the month's, for a report."""
        return self._events(self._rows(lambda db: excursions_started_between(db, start, end)))

    def read_cursor(self, key: str) -> int:
        try:
            return int(read_meta(self.quarantine.db, key) or 0)
        except LedgerError as error:
            raise _store_error(error) from None

    def save_cursor(self, key: str, seq: int) -> None:
        try:
            write_meta(self.quarantine.db, {key: str(seq)})
        except LedgerError as error:
            raise _store_error(error) from None

    def _rows(self, read: Callable[[LedgerDB], list[tuple[int, str]]]) -> list[tuple[int, str]]:
        try:
            return read(self.quarantine.db)
        except LedgerError as error:
            raise _store_error(error) from None

    def _events(self, rows: list[tuple[int, str]]) -> list[ExposureEvent]:
        catalogue = self.quarantine.stock.catalogue
        vaccines: dict[str, str] = {}

        def vaccine_of(product_id: str) -> str:
            if product_id not in vaccines:
                product = catalogue.product(product_id)
                vaccines[product_id] = product.vaccine_code if product else product_id
            return vaccines[product_id]

        events: list[ExposureEvent] = []
        try:
            for seq, excursion_id in rows:
                excursion = self.quarantine.excursion(excursion_id)
                if excursion is not None:
                    events += exposure_events_of(seq, excursion, vaccine_of)
        except LedgerError as error:
            raise _store_error(error) from None
        return events


def ledger_exposures(db: LedgerDB, settings: Settings, clock: Clock) -> ExposureEvents:
    """The exposure events of a ledger file opened apart from the running gateway (a report)."""
    stock = StockLedger(db, Catalogue(db), clock)
    locations = StockLocations(db, stock, compartment_refs(settings))
    return ExposureEvents(Quarantine(db, stock, locations, StabilityTable()))


def _store_error(error: LedgerError) -> StoreError:
    return StoreError(f"the ledger file cannot be read or written ({error}); fix: check the disk")


def open_excursions(
    settings: Settings,
    clock: Clock,
    ledger: LedgerBook,
    readings: ReadingStore,
    *,
    alarms: AlarmService | None,
    config_path: Path | None,
) -> ExcursionService:
    """The service of a running gateway: stability data beside the configuration file, and
    with alarms on, their messages name the doses in the compartment."""
    service = ExcursionService(
        settings, clock, ledger.db, ledger.stock, readings=readings,
        stability=stability_beside(config_path, settings.gateway.data_dir),
        alarms=None if alarms is None else alarms.store,
        alarm_state=None if alarms is None else lambda: alarms.core.escalation,
    )  # fmt: skip
    if alarms is not None:
        alarms.count_doses_with(service.doses_at_risk)
        ledger.stock.holds = service.hold_on
    return service
