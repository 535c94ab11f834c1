"""Compartment ranges: defaults by kind, overridden per compartment from a CSV or TOML file.

CSV: a header `unit,fridge,compartment,min_c,max_c` then one row per compartment; an empty
limit means "none". TOML: `[[range]]` tables with the same keys. A compartment whose kind is
unknown and that has no override uses the refrigerated range.
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from analysis.errors import RangeFileError
from analysis.metrics import DEFAULT_LIMITS, REFRIGERATED, Limits

RangeKey = tuple[str, str, str]
_COLUMNS = ("unit", "fridge", "compartment", "min_c", "max_c")


def _limit(value: Any, where: str, column: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RangeFileError(f"{where}: {column} {value!r} is not a number (°C)") from None


def load_ranges(path: Path) -> dict[RangeKey, tuple[float | None, float | None]]:
    """(unit, fridge, compartment) -> (min_c, max_c) from a .csv or .toml file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise RangeFileError(f"range file {path}: {error.strerror}") from error
    records: list[tuple[str, Mapping[str, Any]]] = []
    if path.suffix.lower() == ".toml":
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise RangeFileError(f"range file {path}: {error}") from error
        records = [
            (f"{path} [[range]] #{i + 1}", r) for i, r in enumerate(document.get("range", []))
        ]
    else:
        reader = csv.DictReader(text.splitlines())
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise RangeFileError(
                f"range file {path}: missing column(s) {', '.join(missing)}; the header must be "
                + ",".join(_COLUMNS)
            )
        records = [(f"{path} line {i + 2}", r) for i, r in enumerate(reader)]
    out: dict[RangeKey, tuple[float | None, float | None]] = {}
    for where, record in records:
        key = (str(record.get("unit", "")), str(record.get("fridge", "")))
        full = (*key, str(record.get("compartment", "")))
        if not all(full):
            raise RangeFileError(f"{where}: unit, fridge and compartment are all required")
        low, high = (
            _limit(record.get("min_c"), where, "min_c"),
            _limit(record.get("max_c"), where, "max_c"),
        )
        if low is None and high is None:
            raise RangeFileError(f"{where}: set min_c, max_c or both")
        if low is not None and high is not None and low >= high:
            raise RangeFileError(f"{where}: min_c {low} must be below max_c {high}")
        out[full] = (low, high)
    return out


def limits_for(
    unit: str,
    fridge: str,
    compartment: str,
    kind: str,
    overrides: Mapping[RangeKey, tuple[float | None, float | None]],
) -> Limits:
    base = DEFAULT_LIMITS.get(kind, REFRIGERATED)
    override = overrides.get((unit, fridge, compartment))
    if override is None:
        return base
    return Limits(override[0], override[1], who=base.who)
