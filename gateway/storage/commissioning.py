"""The commissioning audit log: every install, replacement, move, rename and decommission, with
who made it and when, in its own small SQLite file. The filled-in forms are printed from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from gateway.storage.registry import COMMISSIONING
from gateway.storage.sqlite_file import FileBacked, SqliteFile, Synchronous


class FormKind(StrEnum):
    INSTALL = "install"  # 附表3
    REPLACE = "replace"  # 附表1
    MOVE = "move"  # 附表1
    RENAME = "rename"  # 附表1
    PROBE_COUNT = "probe_count"  # 附表1: how many probes a compartment expects
    DECOMMISSION = "decommission"  # 附表4


@dataclass(frozen=True, slots=True)
class Change:
    """One filled-in form. Fridges are written as on the paper form ("海尔冰箱冷藏"), probes
    as their code with the compartment kind ("208601冷藏")."""

    at: datetime
    who: str
    form: FormKind
    unit_code: str
    unit_name: str
    gateway: str
    old_fridge: str | None
    new_fridge: str | None
    old_probe: str | None
    new_probe: str | None
    config_version: str
    note: str = ""
    id: int | None = None


_COLUMNS = (
    "at, who, form, unit_code, unit_name, gateway, old_fridge, new_fridge, old_probe, "
    "new_probe, config_version, note"
)


class CommissioningLog(FileBacked):
    def __init__(self, path: Path, *, synchronous: Synchronous = "NORMAL") -> None:
        self._file = SqliteFile(
            path,
            what=COMMISSIONING.what,
            migrations=COMMISSIONING.migrations,
            synchronous=synchronous,
        )

    def append(self, change: Change) -> int:
        with self._file.transaction("record a change in") as conn:
            cursor = conn.execute(
                f"INSERT INTO changes ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
                (
                    change.at.isoformat(),
                    change.who,
                    change.form.value,
                    change.unit_code,
                    change.unit_name,
                    change.gateway,
                    change.old_fridge,
                    change.new_fridge,
                    change.old_probe,
                    change.new_probe,
                    change.config_version,
                    change.note,
                ),
            )
            return int(cursor.lastrowid or 0)

    def changes(self, form: FormKind | None = None, limit: int = 1000) -> list[Change]:
        """The newest `limit` changes (of one form kind, if given), oldest first."""
        where, params = ("WHERE form = ?", [form.value]) if form else ("", [])
        rows = self._file.fetch(
            f"SELECT id, {_COLUMNS} FROM changes {where} ORDER BY id DESC LIMIT ?",  # noqa: S608
            [*params, limit],
        )
        return [
            Change(
                at=datetime.fromisoformat(row[1]),
                who=row[2],
                form=FormKind(row[3]),
                unit_code=row[4],
                unit_name=row[5],
                gateway=row[6],
                old_fridge=row[7],
                new_fridge=row[8],
                old_probe=row[9],
                new_probe=row[10],
                config_version=row[11],
                note=row[12],
                id=row[0],
            )
            for row in reversed(rows)
        ]
