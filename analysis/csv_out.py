"""CSV tables of the report: one file per level plus the two rankings (UTF-8 with BOM, so
spreadsheet programs open the Chinese headers correctly)."""

from __future__ import annotations

import csv
from pathlib import Path

from analysis.columns import ranking_table, region_table, table
from analysis.report import LEVELS, Report

FILES = {
    "compartment": "compartments.csv",
    "fridge": "fridges.csv",
    "clinic": "clinics.csv",
    "region": "regions.csv",
}


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_csvs(report: Report, folder: Path) -> list[Path]:
    """Write the tables into `folder` (created if needed); the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [_write(folder / FILES[level], *table(report, level)) for level in LEVELS]
    paths.append(_write(folder / "device_ranking.csv", *ranking_table(report)))
    paths.append(_write(folder / "region_ranking.csv", *region_table(report)))
    return paths
