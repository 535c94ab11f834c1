"""Names of units, regions and fridges for the report: a CSV file `code,name` (UTF-8, with or
without a BOM), one code a line, e.g. `6101030201,雁塔区长延堡社区卫生服务中心`; a fridge is
named by its unit's code and its own, `6101030201/F1,1号医用冰箱` (the forwarders tag readings
with fridge codes only: a name in a tag would split a fridge's series when it is renamed)."""

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
