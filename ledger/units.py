"""The catalogue of units (单位) and the stock rules of seed 002 that depend on their level.

Seed 002 (陕西省疫苗追溯和冷链监测信息系统管理方案, 二.(三).2): "免疫规划疫苗可出库至平级和下级，
可退回上级。出库至平级、退回上级时均需要上级机构审核通过。接种单位不能平级出库。" A unit is known by
its 10-digit code (单位编码), its level and whether it is a vaccinating unit (接种单位). The list
comes from a CSV file (``unit_code,name,level,vaccinating``), configured or imported: a unit
that is not in it cannot receive an issue.
"""

from __future__ import annotations

import csv
import enum
import io
import re
from dataclasses import dataclass

from ledger.errors import UnitsFileInvalidError
from ledger.stock_errors import (
    IssueToOwnUnitError,
    IssueUpwardError,
    ReturnNotUpwardError,
    SameLevelIssueForbiddenError,
)

UNIT_CODE = re.compile(r"^\d{10}$")


class Level(enum.IntEnum):
    """Administrative level; a smaller number is a higher level."""

    PROVINCE = 1  # 省
    CITY = 2  # 市
    COUNTY = 3  # 县
    TOWNSHIP = 4  # 乡
    VILLAGE = 5  # 村


_LEVEL_WORDS = {
    **{level.name.lower(): level for level in Level},
    "省": Level.PROVINCE, "市": Level.CITY, "县": Level.COUNTY, "乡": Level.TOWNSHIP,
    "村": Level.VILLAGE,
}  # fmt: skip
_YES = {"1", "yes", "true", "是"}
_NO = {"0", "no", "false", "否", ""}


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    level: Level
    vaccinating: bool  # 接种单位


class Route(enum.StrEnum):
    """How an issue from one unit to another may happen."""

    DIRECT = "direct"  # down to a lower level
    APPROVAL = "approval"  # same level, not a vaccinating unit: the upper level approves first


def parse_units_csv(text: str) -> list[Unit]:
    """Units of a CSV with the header ``unit_code,name,level,vaccinating``; all or nothing."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"unit_code", "name", "level", "vaccinating"} - set(reader.fieldnames or ())
    if missing:
        raise UnitsFileInvalidError("units", f"the header lacks {', '.join(sorted(missing))}")
    units: dict[str, Unit] = {}
    problems: list[tuple[str, str]] = []
    for line, row in enumerate(reader, start=2):
        where = f"row {line}"
        code, name = (row["unit_code"] or "").strip(), (row["name"] or "").strip()
        level = _LEVEL_WORDS.get((row["level"] or "").strip().lower())
        flag = (row["vaccinating"] or "").strip().lower()
        if not UNIT_CODE.match(code):
            problems.append((f"{where}.unit_code", f"{code!r} is not a 10-digit unit code"))
        elif code in units:
            problems.append((f"{where}.unit_code", f"{code} is listed twice"))
        if not name:
            problems.append((f"{where}.name", "empty"))
        if level is None:
            words = ", ".join(sorted(_LEVEL_WORDS))
            problems.append((f"{where}.level", f"{row['level']!r}: write one of {words}"))
        if flag not in _YES | _NO:
            problems.append((f"{where}.vaccinating", f"{flag!r}: write 1 or 0"))
        if level is not None and UNIT_CODE.match(code) and name and flag in _YES | _NO:
            units[code] = Unit(code, name, level, flag in _YES)
    if problems:
        raise UnitsFileInvalidError.many(problems)
    if not units:
        raise UnitsFileInvalidError("units", "the file lists no unit")
    return list(units.values())


def issue_route(own: Unit, to: Unit) -> Route:
    """How `own` may issue to `to` (seed 002); refused with the reason otherwise."""
    if to.code == own.code:
        raise IssueToOwnUnitError(
            "to_unit",
            f"{to.code} is this unit: a unit cannot issue to itself",
            params={"unit": to.name},
        )
    if to.level > own.level:
        return Route.DIRECT
    if to.level < own.level:
        raise IssueUpwardError(
            "to_unit",
            f"{to.code} ({to.name}) is of a higher level: sending vaccine up is a return, "
            "which the upper level approves (ask with kind 'return')",
            params={"unit": to.name},
        )
    if own.vaccinating:
        raise SameLevelIssueForbiddenError(
            "to_unit",
            f"{to.code} ({to.name}) is of the same level, and a vaccinating unit cannot issue "
            "to the same level (接种单位不能平级出库)",
            params={"unit": to.name},
        )
    return Route.APPROVAL


def check_return(own: Unit, to: Unit) -> None:
    """A return goes up to a unit of a higher level (退回上级)."""
    if to.level >= own.level:
        raise ReturnNotUpwardError(
            "to_unit",
            f"{to.code} ({to.name}) is not of a higher level: returns go up only",
            params={"unit": to.name},
        )
