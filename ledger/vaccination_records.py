"""Vaccination records as the ledger keeps them: recipients and dose records, their checks and
their stored JSON form.

Validation collects every problem (field, reason) and refuses the whole record: code tables
(`tables`), manufacturer ↔ vaccine, dose number within the schedule and in sequence, age fit,
ID number check digit (or the placeholder of eighteen 8s) agreeing with birth date and sex.
A recipient carries every field the national platform refuses when empty or out of dictionary
(reference/upload_errors.csv): 户籍县编码, 现住地区, 婚姻状况, 职业类别, a parent's or guardian's
name for a minor, the mother's name for a newborn. The units and times of the archive (建档单位,
现管理单位, 起始管理日期, 修改单位, 修改时间) are stamped by the ledger, never typed.
The versioned ledger that stores them is `gateway.storage.ledger.vaccinations`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from gateway.core.clinic_time import CLINIC_TZ
from ledger.batch_field import check_batch
from ledger.errors import (
    BatchFieldError,
    FieldProblem,
    IdNumberError,
    LedgerError,
    ProblemCode,
    RecordError,
    problem,
)
from ledger.idcard import is_placeholder, parse_id_number
from ledger.tables import ReferenceTables, Vaccine

NORMAL, DELETED = "01", "02"
SEXES = {"1": "男", "2": "女"}  # GB/T 2261.1
_UNIT = re.compile(r"[0-9]{10}")
_PHONE = re.compile(r"[0-9+-]{7,20}")
ADULT_YEARS = 18  # below it a parent's or guardian's name is required
NEWBORN_DAYS = 28  # the neonatal period: the mother's name is required
PERSON_FIELDS = (
    "name", "sex", "birth_date", "id_number", "phone", "address", "crowd_category",
    "household_county", "current_area", "marital_status", "occupation", "father_name",
    "mother_name", "guardian_name",
)  # fmt: skip
CORRECTABLE = frozenset(
    {"manufacturer_code", "dose_no", "site_code", "vaccinator", "vaccination_type",
     "vaccine_attribute", *PERSON_FIELDS}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Recipient:
    archive_no: str
    name: str
    sex: str  # "1" male, "2" female
    birth_date: date
    id_number: str  # 18 characters, or eighteen 8s when unknown
    phone: str
    address: str
    crowd_category: str
    household_county: str  # 户籍县编码: a county of the regions table
    current_area: str  # 现住地区: a county or street of the regions table
    marital_status: str  # 婚姻状况, GB/T 2261.2
    occupation: str  # 职业类别
    father_name: str = ""
    mother_name: str = ""
    guardian_name: str = ""
    archive_unit: str = ""  # 建档单位: stamped by the ledger at the first version
    management_unit: str = ""  # 现管理单位: stamped by the ledger
    management_start: date | None = None  # 起始管理日期: stamped by the ledger
    updated_unit: str = ""  # 受种者档案更新单位 / 修改单位: stamped at each version
    updated_at: datetime | None = None  # 修改时间: stamped at each version

    def identity(self) -> str:
        """What finds this person's archive (重卡): the ID number, or for a person without one
        (the placeholder) name + birth date + a parent's or guardian's name. The migration that
        added the stored column computes the same in SQL."""
        if not is_placeholder(self.id_number):
            return "id:" + self.id_number.upper()
        guardian = self.mother_name or self.father_name or self.guardian_name
        return f"person:{self.name.strip()}|{self.birth_date.isoformat()}|{guardian.strip()}"


@dataclass(frozen=True, slots=True)
class DoseRecord:
    """One version of one dose (接种个案), with the recipient as it was at that version."""

    record_id: str
    version: int
    status: str
    recipient: Recipient
    vaccine_code: str
    manufacturer_code: str
    batch_no: str
    trace_code: str
    dose_no: int
    vaccinated_at: datetime
    site_code: str
    vaccinator: str
    vaccination_type: str
    vaccine_attribute: str
    unit_code: str
    updated_at: datetime | None = None  # 修改时间 of this version: stamped by the ledger


@dataclass(frozen=True, slots=True)
class RecipientVersion:
    """One stored version of a recipient and who entered it."""

    recipient: Recipient
    version: int
    actor: str | None  # None: entered before the ledger recorded actors
    entered_at: datetime


@dataclass(frozen=True, slots=True)
class RecordVersion:
    """One stored version of a dose record, who entered it and why."""

    record: DoseRecord
    actor: str | None  # None: entered before the ledger recorded actors
    reason: str
    entered_at: datetime


def recipient_problems(
    person: Recipient, tables: ReferenceTables, now: datetime
) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if not person.archive_no.strip():
        problems.append(problem("archive_no", "empty", ProblemCode.VALUE_EMPTY))
    if not person.name.strip():
        problems.append(problem("name", "empty", ProblemCode.VALUE_EMPTY))
    if person.sex not in SEXES:
        problems.append(problem("sex", f"{person.sex!r} is not 1 (男) or 2 (女)",
                                ProblemCode.SEX_INVALID, value=person.sex))  # fmt: skip
    today = now.astimezone(CLINIC_TZ).date()
    if not date(1900, 1, 1) <= person.birth_date <= today:
        problems.append(problem("birth_date", f"{person.birth_date} is out of range",
                                ProblemCode.BIRTH_DATE_OUT_OF_RANGE,
                                value=person.birth_date.isoformat()))  # fmt: skip
    problems += _id_problems(person)
    if person.phone and not _PHONE.fullmatch(person.phone):
        problems.append(problem("phone", "digits only (7 to 20)", ProblemCode.PHONE_INVALID))
    if not person.address.strip():
        problems.append(problem("address", "empty", ProblemCode.VALUE_EMPTY))
    codes = (
        ("crowd_category", person.crowd_category, tables.crowd_categories),
        ("household_county", person.household_county, tables.counties()),
        ("current_area", person.current_area, tables.regions),
        ("marital_status", person.marital_status, tables.marital_statuses),
        ("occupation", person.occupation, tables.occupations),
    )
    problems += _code_problems(codes)
    problems += _guardian_problems(person, today)
    return problems


def _code_problems(
    checks: Iterable[tuple[str, str, Mapping[str, object]]],
) -> list[FieldProblem]:
    problems = []
    for name, value, table in checks:
        if not value.strip():
            problems.append(problem(name, "empty: the platform refuses a record without it",
                                    ProblemCode.VALUE_EMPTY))  # fmt: skip
        elif value not in table:
            problems.append(problem(name, f"{value!r} is not in the code table",
                                    ProblemCode.NOT_IN_CODE_TABLE, value=value))  # fmt: skip
    return problems


def _guardian_problems(person: Recipient, today: date) -> list[FieldProblem]:
    """父亲姓名或母亲姓名或监护人姓名 for a minor; 新生儿母亲姓名 for a newborn."""
    problems = []
    names = (person.father_name, person.mother_name, person.guardian_name)
    if _age_years(person.birth_date, today) < ADULT_YEARS and not any(n.strip() for n in names):
        problems.append(problem("guardian_name", "empty: a minor needs the father's, mother's"
                                " or guardian's name", ProblemCode.GUARDIAN_REQUIRED))  # fmt: skip
    if (today - person.birth_date).days < NEWBORN_DAYS and not person.mother_name.strip():
        problems.append(problem("mother_name", "empty: a newborn needs the mother's name",
                                ProblemCode.MOTHER_NAME_REQUIRED))  # fmt: skip
    return problems


def _age_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


DOSE_CODED = ("site_code", "vaccination_type", "vaccine_attribute", "manufacturer_code")


def with_codes(person: Recipient, tables: ReferenceTables) -> Recipient:
    """The person with each coded field given by its name replaced by its code."""
    code = tables.code_of
    return replace(
        person,
        crowd_category=code("crowd_category", person.crowd_category),
        household_county=code("household_county", person.household_county),
        current_area=code("current_area", person.current_area),
        marital_status=code("marital_status", person.marital_status),
        occupation=code("occupation", person.occupation),
    )


def dose_codes(fields: Mapping[str, Any], tables: ReferenceTables) -> dict[str, Any]:
    """Dose fields with each coded one given by its name replaced by its code."""
    return {
        name: tables.code_of(name, value) if name in DOSE_CODED and isinstance(value, str)
        else value
        for name, value in fields.items()
    }  # fmt: skip


def actor_problems(actor: str) -> list[FieldProblem]:
    if actor.strip():
        return []
    return [
        problem("actor", "empty: name the user who enters this version", ProblemCode.VALUE_EMPTY)
    ]


def require_actor(actor: str) -> None:
    problems = actor_problems(actor)
    if problems:
        raise RecordError.many(problems)


def _id_problems(person: Recipient) -> list[FieldProblem]:
    """The ID number (or the placeholder) and its agreement with birth date and sex."""
    if is_placeholder(person.id_number):
        return []
    try:
        parsed = parse_id_number(person.id_number)
    except IdNumberError as error:
        return list(error.problems)
    problems = []
    if parsed.birth_date != person.birth_date:
        problems.append(problem("birth_date", f"differs from the ID number's {parsed.birth_date}",
                                ProblemCode.DIFFERS_FROM_ID_NUMBER,
                                value=parsed.birth_date.isoformat()))  # fmt: skip
    if {"M": "1", "F": "2"}[parsed.sex] != person.sex:
        problems.append(problem("sex", "differs from the ID number",
                                ProblemCode.DIFFERS_FROM_ID_NUMBER, value=""))  # fmt: skip
    return problems


def dose_problems(record: DoseRecord, tables: ReferenceTables) -> list[FieldProblem]:
    """Checks that need no database: code tables, schedule length, age fit, batch field."""
    problems: list[FieldProblem] = []
    vaccine = tables.vaccines.get(record.vaccine_code)
    if vaccine is None:
        problems.append(
            problem(
                "vaccine_code",
                f"{record.vaccine_code!r} is not in the vaccine table",
                ProblemCode.VACCINE_UNKNOWN,
                value=record.vaccine_code,
            )
        )
    else:
        if record.manufacturer_code not in vaccine.manufacturers:
            maker = record.manufacturer_code
            problems.append(problem("manufacturer_code", f"{maker!r} does not make {vaccine.name}",
                                    ProblemCode.MANUFACTURER_MISMATCH, value=maker,
                                    vaccine=vaccine.name))  # fmt: skip
        if not 1 <= record.dose_no <= vaccine.doses:
            problems.append(problem("dose_no", f"dose {record.dose_no} of a {vaccine.doses}-dose "
                                    f"schedule ({vaccine.name})", ProblemCode.DOSE_BEYOND_SCHEDULE,
                                    dose_no=record.dose_no, doses=vaccine.doses,
                                    vaccine=vaccine.name))  # fmt: skip
        months = _age_months(record.recipient.birth_date, record.vaccinated_at)
        if months < vaccine.min_age_months or (
            vaccine.max_age_months is not None and months > vaccine.max_age_months
        ):
            top = vaccine.max_age_months if vaccine.max_age_months is not None else "no limit"
            problems.append(problem("birth_date", f"age {months} months does not fit "
                                    f"{vaccine.name} ({vaccine.min_age_months} to {top} months)",
                                    ProblemCode.AGE_NOT_FIT, months=months, vaccine=vaccine.name,
                                    low=vaccine.min_age_months, high=top))  # fmt: skip
    try:
        check_batch(record.batch_no, others=_other_fields(record))
    except BatchFieldError as error:
        problems += error.problems
    checks = (
        ("site_code", record.site_code, tables.sites),
        ("vaccination_type", record.vaccination_type, tables.vaccination_types),
        ("vaccine_attribute", record.vaccine_attribute, tables.vaccine_attributes),
    )
    problems += _code_problems(checks)
    if vaccine is not None:
        problems += use_problems(vaccine, record.vaccination_type, record.vaccine_attribute)
    if not record.vaccinator.strip():
        problems.append(problem("vaccinator", "empty: the vaccinator's name is required",
                                ProblemCode.VALUE_EMPTY))  # fmt: skip
    if not _UNIT.fullmatch(record.unit_code):
        problems.append(problem("unit_code", "must be the 10-digit unit code",
                                ProblemCode.UNIT_CODE_INVALID))  # fmt: skip
    return problems


EMERGENCY_TYPE, EMERGENCY_ATTRIBUTE = "04", "06"  # 紧急 / 紧急使用疫苗
MASS_TYPE, MASS_ATTRIBUTE = "02", "05"  # 群体 / 群体性预防接种疫苗


def use_problems(vaccine: Vaccine, kind: str, attribute: str) -> list[FieldProblem]:
    """Vaccination type and vaccine attribute consistent with the vaccine and with each other
    (seed 000: emergency use is type 04 with attribute 06; a mass campaign's vaccine, attribute
    05, is given as type 02)."""
    problems = []
    if kind and kind not in vaccine.vaccination_types:
        allowed = "|".join(sorted(vaccine.vaccination_types))
        problems.append(problem("vaccination_type", f"{vaccine.name} is not given as type"
                                f" {kind} (allowed: {allowed})", ProblemCode.TYPE_NOT_FOR_VACCINE,
                                value=kind, vaccine=vaccine.name, allowed=allowed))  # fmt: skip
    if attribute and attribute not in vaccine.vaccine_attributes:
        allowed = "|".join(sorted(vaccine.vaccine_attributes))
        problems.append(problem("vaccine_attribute", f"{vaccine.name} does not have attribute"
                                f" {attribute} (allowed: {allowed})",
                                ProblemCode.ATTRIBUTE_NOT_FOR_VACCINE, value=attribute,
                                vaccine=vaccine.name, allowed=allowed))  # fmt: skip
    if (kind == EMERGENCY_TYPE) != (attribute == EMERGENCY_ATTRIBUTE):
        problems.append(problem("vaccine_attribute", "emergency use is type 04 with attribute"
                                " 06, both or neither", ProblemCode.EMERGENCY_PAIR))  # fmt: skip
    elif attribute == MASS_ATTRIBUTE and kind != MASS_TYPE:
        problems.append(problem("vaccination_type", "a mass vaccination's vaccine (attribute"
                                " 05) is given as type 02", ProblemCode.MASS_PAIR))  # fmt: skip
    return problems


def schedule_problems(
    record: DoseRecord, vaccine: Vaccine, previous: Sequence[datetime]
) -> list[FieldProblem]:
    """The dose against the schedule table: the youngest age for this dose and the shortest
    interval after the latest of the `previous` doses of the same vaccine."""
    scheduled = vaccine.dose(record.dose_no)
    if scheduled is None:
        return []
    problems = []
    months = _age_months(record.recipient.birth_date, record.vaccinated_at)
    if months < scheduled.min_age_months:
        youngest = scheduled.min_age_months
        problems.append(problem("dose_no", f"dose {record.dose_no} of {vaccine.name} from"
                                f" {youngest} months of age, the person is {months}",
                                ProblemCode.DOSE_TOO_YOUNG, dose_no=record.dose_no,
                                vaccine=vaccine.name, low=youngest, months=months))  # fmt: skip
    if scheduled.min_interval_days is not None and previous:
        latest = max(previous)
        due = latest + timedelta(days=scheduled.min_interval_days)
        if record.vaccinated_at < due:
            day = due.astimezone(CLINIC_TZ).date().isoformat()
            problems.append(problem("dose_no", f"dose {record.dose_no} of {vaccine.name} at"
                                    f" least {scheduled.min_interval_days} days after the"
                                    f" previous dose: due from {day}", ProblemCode.DOSE_TOO_SOON,
                                    dose_no=record.dose_no, vaccine=vaccine.name,
                                    days=scheduled.min_interval_days, due=day))  # fmt: skip
    return problems


@dataclass(frozen=True, slots=True)
class NextDose:
    vaccine_code: str
    vaccine_name: str
    dose_no: int
    due: date  # the earliest day by the schedule table (interval and age)


def next_doses(
    person: Recipient, records: Iterable[DoseRecord], tables: ReferenceTables
) -> list[NextDose]:
    """For each vaccine the person had a dose of (records in force), the next dose of its
    schedule and the earliest day it may be given; none once the schedule is complete."""
    latest: dict[str, tuple[int, datetime]] = {}
    for record in records:
        if record.status != NORMAL:
            continue
        before = latest.get(record.vaccine_code)
        if before is None or record.dose_no > before[0]:
            latest[record.vaccine_code] = (record.dose_no, record.vaccinated_at)
    due = []
    for code, (dose_no, at) in sorted(latest.items()):
        vaccine = tables.vaccines.get(code)
        scheduled = vaccine.dose(dose_no + 1) if vaccine is not None else None
        if vaccine is None or scheduled is None:
            continue
        day = at.astimezone(CLINIC_TZ).date() + timedelta(days=scheduled.min_interval_days or 0)
        day = max(day, _add_months(person.birth_date, scheduled.min_age_months))
        due.append(NextDose(code, vaccine.name, dose_no + 1, day))
    return due


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    target = date(day.year + year, month + 1, 1)
    following = date(target.year + (target.month == 12), target.month % 12 + 1, 1)
    return target.replace(day=min(day.day, (following - target).days))


def _other_fields(record: DoseRecord) -> dict[str, str]:
    """Values of the record's other fields a batch number must not be."""
    person = record.recipient
    return {"id_number": person.id_number, "phone": person.phone, "name": person.name,
            "trace_code": record.trace_code, "unit_code": record.unit_code,
            "archive_no": person.archive_no}  # fmt: skip


def _age_months(born: date, at: datetime) -> int:
    day = at.astimezone(CLINIC_TZ).date()
    months = (day.year - born.year) * 12 + day.month - born.month
    return months - (1 if day.day < born.day else 0)


def record_to_json(record: DoseRecord) -> str:
    return json.dumps(asdict(record), default=str, ensure_ascii=False)


def record_from_json(text: str) -> DoseRecord:
    data = json.loads(text)
    try:
        data["recipient"] = recipient_from_dict(data["recipient"])
        data["vaccinated_at"] = datetime.fromisoformat(data["vaccinated_at"])
        data["updated_at"] = _optional_time(data.get("updated_at"))
        return DoseRecord(**data)
    except (KeyError, TypeError, ValueError) as error:
        raise LedgerError("record", f"stored record unreadable: {error}") from None


def recipient_from_dict(data: dict[str, Any]) -> Recipient:
    """A stored recipient; one stored before a field existed has it empty (the platform's
    feedback names it and a new version fills it)."""
    data = dict.fromkeys(PERSON_FIELDS, "") | dict(data)
    data["birth_date"] = date.fromisoformat(data["birth_date"])
    start = data.get("management_start")
    data["management_start"] = date.fromisoformat(start) if start else None
    data["updated_at"] = _optional_time(data.get("updated_at"))
    return Recipient(**data)


def _optional_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
