"""The clinic's ledgers opened together on one file: what the ledger routes, the scan listener
and the upload task share."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.core.clock import Clock
from gateway.core.errors import StoreError
from gateway.ledgers.upload import Uploader
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.ledger.units import UnitCatalogue
from gateway.storage.ledger.vaccinations import VaccinationLedger
from ledger.errors import CatalogueError, LedgerError
from ledger.settings import LedgerSettings
from ledger.shipments import ImportSummary
from ledger.tables import ReferenceTables, load_tables
from ledger.vaccination_records import DoseRecord

log = logging.getLogger(__name__)


class SignallingVaccinations(VaccinationLedger):
    """The vaccination ledger that sets `queued` whenever a new record version was queued for
    upload, so that in real-time mode the upload task sends right after each dose, whoever
    recorded it (the ledger routes, a tool)."""

    def __init__(
        self, db: LedgerDB, stock: StockLedger, tables: ReferenceTables, clock: Clock,
        unit_code: str, *, queued: asyncio.Event,
    ) -> None:  # fmt: skip
        super().__init__(db, stock, tables, clock, unit_code)
        self.queued = queued

    def record_dose(self, **fields: Any) -> DoseRecord:
        record = super().record_dose(**fields)
        self.queued.set()
        return record

    def correct(self, record_id: str, *, reason: str, actor: str, **changes: Any) -> DoseRecord:
        record = super().correct(record_id, reason=reason, actor=actor, **changes)
        self.queued.set()
        return record

    def delete(self, record_id: str, *, reason: str, actor: str) -> DoseRecord:
        record = super().delete(record_id, reason=reason, actor=actor)
        self.queued.set()
        return record


@dataclass(slots=True)
class LedgerBook:
    db: LedgerDB
    catalogue: Catalogue
    stock: StockLedger
    vaccinations: VaccinationLedger
    uploader: Uploader
    tables: ReferenceTables
    clock: Clock
    unit_code: str
    unit_name: str = ""
    """This clinic's name as configured ([unit] name): 发证单位 on the papers."""
    queued: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a record version or a circulation message was queued for upload (see
    `SignallingVaccinations` and `StockLedger.on_queued`)."""
    catalogue_problems: list[str] = field(default_factory=list)
    """Shipment and unit files that could not be imported at start (shown in /api/health)."""

    def close(self) -> None:
        self.db.close()

    def unit_names(self) -> dict[str, str]:
        """Unit code -> name for the papers: the catalogue of units, this clinic's configured
        name over it."""
        names = self.stock.units.names()
        if self.unit_name:
            names[self.unit_code] = self.unit_name
        return names

    def clinic_name(self) -> str:
        return self.unit_names().get(self.unit_code, self.unit_code)


def open_ledger_book(
    data_dir: Path,
    clock: Clock,
    *,
    unit_code: str,
    platform_url: str,
    realtime: bool = True,
    alarm_margin: timedelta = timedelta(hours=4),
    tables: ReferenceTables | None = None,
    unit_name: str = "",
) -> LedgerBook:
    """Open (creating if needed) the ledger file in `data_dir` and the services over it."""
    db = LedgerDB.in_folder(data_dir)
    tables = tables or load_tables()
    catalogue = Catalogue(db)
    queued = asyncio.Event()
    stock = StockLedger(
        db, catalogue, clock, unit_code=unit_code, scrap_reasons=tables.scrap_reasons,
        on_queued=queued.set,
    )  # fmt: skip
    return LedgerBook(
        db=db,
        catalogue=catalogue,
        stock=stock,
        vaccinations=SignallingVaccinations(db, stock, tables, clock, unit_code, queued=queued),
        uploader=Uploader(db, clock, platform_url, realtime=realtime, alarm_margin=alarm_margin),
        tables=tables,
        clock=clock,
        unit_code=unit_code,
        unit_name=unit_name,
        queued=queued,
    )


def open_configured(
    settings: LedgerSettings, data_dir: Path, clock: Clock, *, unit_code: str, unit_name: str = ""
) -> LedgerBook:
    """The ledger book of a running gateway, with the configured shipment files imported;
    a ledger file that cannot be opened is a `StoreError` (the gateway's own tree).

    Imports are idempotent (a file imported before changes nothing). A file that cannot be
    imported does not stop the gateway, which has fridges to watch: it is logged and listed
    in `catalogue_problems`.
    """
    try:
        book = open_ledger_book(
            data_dir,
            clock,
            unit_code=unit_code,
            unit_name=unit_name,
            platform_url=settings.platform_url,
            realtime=settings.realtime,
            alarm_margin=settings.alarm_margin,
        )
    except LedgerError as error:
        raise StoreError(
            f"the ledger in {data_dir} cannot be opened: {error} (fix: check the disk, or remove "
            "[ledger] to run without the ledgers)"
        ) from None
    for path in settings.catalogue_paths(data_dir):
        outcome = _import_logged(book.catalogue, path)
        if outcome is not None:
            book.catalogue_problems.append(outcome)
    for path in settings.units_paths(data_dir):
        outcome = _units_logged(book.stock.units, path)
        if outcome is not None:
            book.catalogue_problems.append(outcome)
    return book


def _units_logged(units: UnitCatalogue, path: Path) -> str | None:
    """Import one catalogue of units at start; the problem in words when it could not be."""
    try:
        count = units.import_csv(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as error:
        problem = f"{path}: cannot read it: {error}"
    except LedgerError as error:
        problem = f"{path}: {error}"
    else:
        log.info("units file %s: %d unit(s) in the catalogue of units", path.name, count)
        return None
    log.error("units file not imported: %s (fix the file and restart)", problem)
    return problem


def _import_logged(catalogue: Catalogue, path: Path) -> str | None:
    """Import one file at start; the problem in words when it could not be imported."""
    try:
        summary = import_shipment_file(catalogue, path)
    except LedgerError as error:
        problem = f"{path}: {error}"
    else:
        log.info(
            "shipment file %s: %d product(s), %d batch(es), %d trace code(s) in the catalogue",
            path.name,
            summary.products,
            summary.batches,
            summary.trace_codes,
        )
        return None
    log.error("shipment file not imported: %s (fix the file and restart)", problem)
    return problem


def import_shipment_file(catalogue: Catalogue, path: Path) -> ImportSummary:
    """Import one CSV or JSON shipment file, by its suffix; all or nothing."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise CatalogueError("catalogue_files", f"cannot read {path}: {error}") from None
    if path.suffix.lower() == ".json":
        return catalogue.import_json(text)
    return catalogue.import_csv(text)
