"""Names of units and regions for the report: a CSV file `code,name` (UTF-8, with or without
a BOM), one unit or region code a line, e.g. `6101030201,雁塔区长延堡社区卫生服务中心`."""

from __future__ import annotations

import csv
from pathlib import Path

from analysis.errors import UnitsFileError


def load_names(path: Path) -> dict[str, str]:
    """code -> name from a units file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise UnitsFileError(f"units file {path}: {error.strerror}") from error
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or not {"code", "name"} <= set(reader.fieldnames):
        raise UnitsFileError(f"units file {path}: the header must be code,name")
    names: dict[str, str] = {}
    for line, record in enumerate(reader, 2):
        code, name = (record.get("code") or "").strip(), (record.get("name") or "").strip()
        if not code or not name:
            raise UnitsFileError(f"units file {path} line {line}: both code and name are needed")
        if code in names and names[code] != name:
            raise UnitsFileError(
                f"units file {path} line {line}: code {code} is already named {names[code]!r}"
            )
        names[code] = name
    return names
