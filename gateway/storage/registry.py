"""Every SQLite file the gateway keeps, in one table.

Backup, restore, `coldchain status`, the migration tests and the clinic report walk `STORES`;
the runtime and the command line find a file through its entry (`READINGS.path(data_dir)`).
A new store is one entry here, one schema module in `gateway.storage.schema` and the module
holding its queries.

`open` opens a file with the store's own class (running its migrations forward) and default
collaborators; the running gateway builds its stores with its own clock and settings instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.core.closing import Closing
from gateway.storage.schema import (
    accounts,
    alarms,
    audit,
    checks,
    commissioning,
    ledger,
    readings,
    scans,
)
from gateway.storage.sqlite_file import Migrations

SUFFIX = ".sqlite3"

Opener = Callable[[Path], Closing]


@dataclass(frozen=True, slots=True)
class Store:
    """One SQLite file of the data folder.

    `what` names it in messages; `personal_data` says whether it holds names, ID numbers or
    phone numbers (principle 9: such a file, and any backup holding it, stays in the clinic);
    `status_tables` are the tables whose row counts `coldchain status` shows."""

    name: str
    what: str
    migrations: Migrations
    personal_data: bool
    status_tables: tuple[str, ...]
    open: Opener

    @property
    def file(self) -> str:
        return f"{self.name}{SUFFIX}"

    @property
    def schema_version(self) -> int:
        """The schema version this code writes (a file's `user_version` once migrated)."""
        return len(self.migrations)

    def path(self, data_dir: Path) -> Path:
        return data_dir / self.file


def _readings(path: Path) -> Closing:
    from gateway.storage.readings import ReadingStore

    return ReadingStore(path)


def _alarms(path: Path) -> Closing:
    from gateway.storage.alarms import AlarmStore

    return AlarmStore(path)


def _scans(path: Path) -> Closing:
    from gateway.storage.scans import ScanStore

    return ScanStore(path)


def _ledger(path: Path) -> Closing:
    from gateway.storage.ledger.db import LedgerDB

    return LedgerDB(path)


def _accounts(path: Path) -> Closing:
    from gateway.core.clock import SystemClock
    from gateway.storage.accounts import AccountStore

    return AccountStore(path, SystemClock())


def _audit(path: Path) -> Closing:
    from gateway.core.clock import SystemClock
    from gateway.storage.audit_log import AuditLog

    return AuditLog(path, SystemClock())


def _checks(path: Path) -> Closing:
    from gateway.core.clock import SystemClock
    from gateway.storage.checks import ChecksStore

    return ChecksStore(path, SystemClock().now())


def _commissioning(path: Path) -> Closing:
    from gateway.storage.commissioning import CommissioningLog

    return CommissioningLog(path)


READINGS = Store(
    "readings", "the store", readings.MIGRATIONS, False, ("probes", "readings"), _readings
)
ALARMS = Store("alarms", "the alarm store", alarms.MIGRATIONS, True, ("alarms", "outbox"), _alarms)
SCANS = Store("scans", "the scan store", scans.MIGRATIONS, True, ("scans",), _scans)
LEDGER = Store(
    "ledger",
    "the ledger",
    ledger.MIGRATIONS,
    True,
    ("stock_events", "record_versions", "upload_queue"),
    _ledger,
)
ACCOUNTS = Store(
    "accounts",
    "the accounts store",
    accounts.MIGRATIONS,
    True,
    ("accounts", "sessions", "api_tokens"),
    _accounts,
)
AUDIT = Store("audit", "the audit log", audit.MIGRATIONS, True, ("audit",), _audit)
CHECKS = Store(
    "checks",
    "the checks store",
    checks.MIGRATIONS,
    False,
    ("calibrations", "manual_readings"),
    _checks,
)
COMMISSIONING = Store(
    "commissioning",
    "the commissioning log",
    commissioning.MIGRATIONS,
    False,
    ("changes",),
    _commissioning,
)

STORES: tuple[Store, ...] = (
    READINGS,
    ALARMS,
    SCANS,
    LEDGER,
    ACCOUNTS,
    AUDIT,
    CHECKS,
    COMMISSIONING,
)


def by_file(file: str) -> Store | None:
    """The entry of a file name (`ledger.sqlite3`), or None for a file this gateway does not
    know (one made by a newer version)."""
    return next((store for store in STORES if store.file == file), None)
