"""The clinic's ledgers opened together on one file: what the ledger routes, the scan listener
and the upload task share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from gateway.clock import Clock
from ledger.catalogue import Catalogue
from ledger.db import LedgerDB
from ledger.stock import StockLedger
from ledger.tables import ReferenceTables, load_tables
from ledger.upload import Uploader
from ledger.vaccinations import VaccinationLedger


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

    def close(self) -> None:
        self.db.close()


def open_ledger_book(
    data_dir: Path,
    clock: Clock,
    *,
    unit_code: str,
    platform_url: str,
    realtime: bool = True,
    alarm_margin: timedelta = timedelta(hours=4),
    tables: ReferenceTables | None = None,
) -> LedgerBook:
    """Open (creating if needed) the ledger file in `data_dir` and the services over it."""
    db = LedgerDB.in_folder(data_dir)
    tables = tables or load_tables()
    catalogue = Catalogue(db)
    stock = StockLedger(db, catalogue, clock)
    return LedgerBook(
        db=db,
        catalogue=catalogue,
        stock=stock,
        vaccinations=VaccinationLedger(db, stock, tables, clock),
        uploader=Uploader(db, clock, platform_url, realtime=realtime, alarm_margin=alarm_margin),
        tables=tables,
        clock=clock,
        unit_code=unit_code,
    )
