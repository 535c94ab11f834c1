"""The code tables (seed 000 dictionaries) and the sample vaccine table, loaded from CSV.

The CSVs live in ``config/reference/`` (copied from the shared reference data); the caller may
pass another folder. ``vaccines_sample.csv``, ``manufacturers_sample.csv`` and
``sites_sample.csv`` and ``scrap_reasons_sample.csv`` (疫苗报废原因, the code a scrap carries to
the platform) are SAMPLE data: real data comes from the upstream catalogue and the
exchange dictionaries.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import ReferenceDataError

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "config" / "reference"


@dataclass(frozen=True, slots=True)
class Vaccine:
    code: str
    name: str
    manufacturers: frozenset[str]
    doses: int
    min_age_months: int
    max_age_months: int | None


@dataclass(frozen=True, slots=True)
class AgeGroup:
    label: str
    min_years: int
    max_years: int | None

    def contains(self, years: int) -> bool:
        return years >= self.min_years and (self.max_years is None or years <= self.max_years)


@dataclass(frozen=True, slots=True)
class UploadErrorKind:
    message: str
    kind: str  # not_in_dictionary, required_empty, out_of_range, mismatch, xml_format, other


@dataclass(frozen=True)
class ReferenceTables:
    crowd_categories: dict[str, str]
    vaccination_types: dict[str, str]
    vaccine_attributes: dict[str, str]
    record_status: dict[str, str]
    age_groups: tuple[AgeGroup, ...]
    upload_errors: tuple[UploadErrorKind, ...]
    bad_batch_values: tuple[str, ...]
    vaccines: dict[str, Vaccine]
    manufacturers: dict[str, str]
    sites: dict[str, str]
    scrap_reasons: dict[str, str]

    def age_group(self, years: int) -> str:
        for group in self.age_groups:
            if group.contains(years):
                return group.label
        raise ReferenceDataError("age", f"no age group holds {years} years")


def rejection_kind(message: str) -> str:
    """The kind of a platform rejection message (upload_errors.csv wording)."""
    if "xml" in message.casefold():
        return "xml_format"
    if "不在字典中" in message:
        return "not_in_dictionary"
    if "不能为空" in message:
        return "required_empty"
    if "超出允许范围" in message:
        return "out_of_range"
    if "不匹配" in message:
        return "mismatch"
    return "other"


def load_tables(folder: Path | None = None) -> ReferenceTables:
    base = folder if folder is not None else DEFAULT_DIR
    vaccines: dict[str, Vaccine] = {}
    for row in _rows(base, "vaccines_sample.csv"):
        try:
            max_age = row["max_age_months"].strip()
            vaccines[row["vaccine_code"]] = Vaccine(
                code=row["vaccine_code"],
                name=row["name"],
                manufacturers=frozenset(filter(None, row["manufacturer_codes"].split("|"))),
                doses=int(row["doses"]),
                min_age_months=int(row["min_age_months"]),
                max_age_months=int(max_age) if max_age else None,
            )
        except (KeyError, ValueError) as error:
            raise ReferenceDataError("vaccines_sample.csv", f"bad row {row}: {error}") from None
    groups = []
    for row in _rows(base, "age_groups_covid_summary.csv"):
        top = row["max_age_inclusive"].strip()
        groups.append(
            AgeGroup(row["label"], int(row["min_age_inclusive"]), int(top) if top else None)
        )
    return ReferenceTables(
        crowd_categories=_codes(base, "crowd_categories.csv"),
        vaccination_types=_codes(base, "vaccination_types.csv"),
        vaccine_attributes=_codes(base, "vaccine_attributes.csv"),
        record_status=_codes(base, "record_status.csv"),
        age_groups=tuple(groups),
        upload_errors=tuple(
            UploadErrorKind(row["message"], rejection_kind(row["message"]))
            for row in _rows(base, "upload_errors.csv")
        ),
        bad_batch_values=tuple(row["value"] for row in _rows(base, "bad_batch_values.csv")),
        vaccines=vaccines,
        manufacturers=_codes(base, "manufacturers_sample.csv"),
        sites=_codes(base, "sites_sample.csv"),
        scrap_reasons=_codes(base, "scrap_reasons_sample.csv"),
    )


def _codes(base: Path, name: str) -> dict[str, str]:
    try:
        return {row["code"]: row["name"] for row in _rows(base, name)}
    except KeyError as error:
        raise ReferenceDataError(name, f"missing column {error}") from None


def _rows(base: Path, name: str) -> list[dict[str, str]]:
    path = base / name
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    except OSError as error:
        raise ReferenceDataError(name, f"cannot read {path}: {error.strerror}") from None
