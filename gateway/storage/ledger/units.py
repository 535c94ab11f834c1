"""The catalogue of units in the ledger file (``units``): who stock may be issued to or
returned to, and at which level (`ledger.units`). Importing a list again updates the units it
names and keeps the others."""

from __future__ import annotations

from gateway.storage.ledger.db import LedgerDB
from ledger.stock_errors import UnitUnknownError
from ledger.units import Level, Unit, parse_units_csv


class UnitCatalogue:
    def __init__(self, db: LedgerDB) -> None:
        self.db = db

    def import_csv(self, text: str) -> int:
        """Store the units of a CSV (`ledger.units.parse_units_csv`), all or nothing."""
        return self.store(parse_units_csv(text))

    def store(self, units: list[Unit]) -> int:
        with self.db.transaction("import units") as conn:
            conn.executemany(
                "INSERT INTO units (code, name, level, vaccinating) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (code) DO UPDATE SET name = excluded.name,"
                " level = excluded.level, vaccinating = excluded.vaccinating",
                [(u.code, u.name, int(u.level), int(u.vaccinating)) for u in units],
            )
        return len(units)

    def names(self) -> dict[str, str]:
        """Every unit's name by its code."""
        with self.db.translated("read units"):
            rows = self.db.conn.execute("SELECT code, name FROM units").fetchall()
        return {str(code): str(name) for code, name in rows}

    def get(self, code: str) -> Unit | None:
        with self.db.translated("read units"):
            row = self.db.conn.execute(
                "SELECT code, name, level, vaccinating FROM units WHERE code = ?", (code,)
            ).fetchone()
        return None if row is None else Unit(row[0], row[1], Level(row[2]), bool(row[3]))

    def known(self, code: str, field: str, whose: str) -> Unit:
        """The unit `code`, or a refusal naming `field` and how to make it known."""
        unit = self.get(code.strip())
        if unit is None:
            raise UnitUnknownError(
                field,
                f"{code!r} ({whose}) is not in the catalogue of units; fix: import the unit "
                "list ([ledger] units_files, or POST /api/ledger/units/import)",
                params={"value": code},
            )
        return unit

    def all(self) -> list[Unit]:
        with self.db.translated("read units"):
            rows = self.db.conn.execute(
                "SELECT code, name, level, vaccinating FROM units ORDER BY level, code"
            ).fetchall()
        return [Unit(r[0], r[1], Level(r[2]), bool(r[3])) for r in rows]
