"""The ledgers' services, with a `[ledger]`: the book, the excursion service over it and the
readings, and the ledger's jobs (uploads, daily jobs, scan stations placing into compartments
through the excursion service's stock locations)."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.auth.acting import Acting
from gateway.core.clock import Clock
from gateway.runtime.service import Job, Service, Stage, Work
from gateway.settings import Settings
from gateway.storage.readings import ReadingStore

if TYPE_CHECKING:
    from gateway.alarms.engine import AlarmService
    from gateway.ledgers.book import LedgerBook
    from gateway.ledgers.excursion_service import ExcursionService
    from gateway.ledgers.tasks import LedgerJobs


@dataclass(slots=True)
class Ledger:
    """With a `[ledger]`: the ledgers, the excursion service over them and the readings, and
    the ledger's jobs (uploads, daily jobs, scan stations placing into compartments through
    the excursion service's stock locations)."""

    book: LedgerBook | None = None
    excursions: ExcursionService | None = None
    jobs: LedgerJobs | None = None

    def services(self) -> list[Service]:
        services: list[Service] = []
        if self.jobs is not None:
            services += [
                Job(name, Stage.JOBS, functools.partial(_made, job))
                for name, job in self.jobs.tasks()
            ]
        if self.excursions is not None:
            excursions = self.excursions

            def place(settings: Settings) -> None:
                excursions.settings = settings

            services.append(
                Job(
                    "excursions",
                    Stage.JOBS,
                    excursions.run,
                    on_reload=place,
                    health=excursions.health,
                )
            )
        return services


def _made(work: Work) -> Work:
    """A coroutine made before its service runs (the ledger's jobs)."""
    return work


def open_ledger(
    settings: Settings,
    clock: Clock,
    resources: contextlib.AsyncExitStack,
    *,
    config_path: Path | None,
    store: ReadingStore,
    alarms: AlarmService | None,
    acting: Acting,
) -> Ledger:
    if settings.ledger is None:
        return Ledger()
    from gateway.ledgers.book import open_configured
    from gateway.ledgers.excursion_service import open_excursions
    from gateway.ledgers.tasks import LedgerJobs

    book = open_configured(
        settings.ledger,
        settings.gateway.data_dir,
        clock,
        unit_code=settings.unit.code,
        unit_name=settings.unit.name,
    )
    resources.callback(book.close)
    excursions = open_excursions(
        settings, clock, book, store, alarms=alarms, config_path=config_path
    )
    jobs = LedgerJobs(
        book, settings, clock, alarms, acting.for_scan, locations=excursions.locations
    )
    return Ledger(book, excursions, jobs)
