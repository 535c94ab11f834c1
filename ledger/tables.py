"""The code tables (seed 000 dictionaries) and the sample vaccine table, loaded from CSV.

The CSVs live in ``config/reference/`` (copied from the shared reference data); the caller may
pass another folder. ``vaccines_sample.csv``, ``manufacturers_sample.csv`` and
``sites_sample.csv`` and ``scrap_reasons_sample.csv`` (疫苗报废原因, the code a scrap carries to
the platform), ``vaccine_schedule_sample.csv`` (per dose: minimum age, minimum interval after
the previous dose), ``regions_sample.csv`` (行政区划: counties for 户籍县, counties and streets
for 现住地区) and ``occupations_sample.csv`` (职业类别) are SAMPLE data: real data comes from the
upstream catalogue and the exchange dictionaries. ``marital_status.csv`` is GB/T 2261.2.
Each vaccine names the vaccination types and vaccine attributes it may be given under (hepatitis
B is never 04 紧急 / 06 紧急使用疫苗).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import ReferenceDataError

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "config" / "reference"


@dataclass(frozen=True, slots=True)
class ScheduledDose:
    """One dose of a vaccine's schedule: the youngest age and the shortest interval after the
    previous dose (None for the first dose)."""

    dose_no: int
    min_age_months: int
    min_interval_days: int | None


@dataclass(frozen=True, slots=True)
class Vaccine:
    code: str
    name: str
    manufacturers: frozenset[str]
    doses: int
    min_age_months: int
    max_age_months: int | None
    vaccination_types: frozenset[str]
    vaccine_attributes: frozenset[str]
    schedule: tuple[ScheduledDose, ...] = ()

    def dose(self, dose_no: int) -> ScheduledDose | None:
        for scheduled in self.schedule:
            if scheduled.dose_no == dose_no:
                return scheduled
        return None


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    level: str  # "county" (6 digits) or "street" (9 digits)


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
    regions: dict[str, Region]
    marital_statuses: dict[str, str]
    occupations: dict[str, str]

    def counties(self) -> dict[str, Region]:
        return {code: r for code, r in self.regions.items() if r.level == "county"}

    def coded(self) -> dict[str, dict[str, str]]:
        """Each table a person or a dose is entered from, code -> Chinese name, by the name of
        the field it fills (for the pages' choices and for `code_of`)."""
        return {
            "crowd_category": self.crowd_categories,
            "household_county": {c: r.name for c, r in self.counties().items()},
            "current_area": {c: r.name for c, r in self.regions.items()},
            "marital_status": self.marital_statuses,
            "occupation": self.occupations,
            "site_code": self.sites,
            "vaccination_type": self.vaccination_types,
            "vaccine_attribute": self.vaccine_attributes,
            "manufacturer_code": self.manufacturers,
        }

    def code_of(self, field: str, value: str) -> str:
        """The code `value` stands for in the table of `field`: the code itself, or the code of
        the entry whose name it is (``常规`` -> ``01``; ``01 常规`` as the pages show it too).
        Anything else is returned as given, for validation to refuse naming the field."""
        table = self.coded().get(field)
        text = value.strip()
        if table is None or text in table:
            return text
        head = text.split(" ", 1)[0]
        if head in table and text == f"{head} {table[head]}":
            return head
        found = [code for code, name in table.items() if name == text]
        return found[0] if len(found) == 1 else text

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
    schedules = _schedules(base)
    vaccines: dict[str, Vaccine] = {}
    for row in _rows(base, "vaccines_sample.csv"):
        try:
            max_age = row["max_age_months"].strip()
            code = row["vaccine_code"]
            vaccines[code] = Vaccine(
                code=code,
                name=row["name"],
                manufacturers=_codes_in(row["manufacturer_codes"]),
                doses=int(row["doses"]),
                min_age_months=int(row["min_age_months"]),
                max_age_months=int(max_age) if max_age else None,
                vaccination_types=_codes_in(row["vaccination_types"]),
                vaccine_attributes=_codes_in(row["vaccine_attributes"]),
                schedule=tuple(sorted(schedules.get(code, []), key=lambda d: d.dose_no)),
            )
        except (KeyError, ValueError) as error:
            raise ReferenceDataError("vaccines_sample.csv", f"bad row {row}: {error}") from None
        numbers = [dose.dose_no for dose in vaccines[code].schedule]
        if numbers != list(range(1, vaccines[code].doses + 1)):
            raise ReferenceDataError(
                "vaccine_schedule_sample.csv",
                f"vaccine {code} has {vaccines[code].doses} doses but the schedule lists {numbers}",
            )
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
        regions=_regions(base),
        marital_statuses=_codes(base, "marital_status.csv"),
        occupations=_codes(base, "occupations_sample.csv"),
    )


def _codes_in(cell: str) -> frozenset[str]:
    return frozenset(filter(None, (code.strip() for code in cell.split("|"))))


def _schedules(base: Path) -> dict[str, list[ScheduledDose]]:
    schedules: dict[str, list[ScheduledDose]] = {}
    for row in _rows(base, "vaccine_schedule_sample.csv"):
        try:
            interval = row["min_interval_days"].strip()
            dose = ScheduledDose(
                dose_no=int(row["dose_no"]),
                min_age_months=int(row["min_age_months"]),
                min_interval_days=int(interval) if interval else None,
            )
            schedules.setdefault(row["vaccine_code"], []).append(dose)
        except (KeyError, ValueError) as error:
            raise ReferenceDataError(
                "vaccine_schedule_sample.csv", f"bad row {row}: {error}"
            ) from None
    return schedules


def _regions(base: Path) -> dict[str, Region]:
    regions = {}
    for row in _rows(base, "regions_sample.csv"):
        level = row.get("level", "")
        if level not in {"county", "street"}:
            raise ReferenceDataError("regions_sample.csv", f"bad level in {row}")
        regions[row["code"]] = Region(row["code"], row["name"], level)
    return regions


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
