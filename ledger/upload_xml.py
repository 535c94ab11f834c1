"""Build the upload XML of dose records and validate it against the published XSD.

The XSD is ``ledger/schema/vaccination_record.xsd`` (namespace ``urn:coldchain:vaccination:1``);
validation uses xmlschema (pure Python, typed) and happens before anything is sent, so a
"xml格式错误" from the platform means the platforms disagree, not that we sent garbage. The
fields the platform answers "不能为空" for in its own words (户籍县, 现管理单位, 起始管理日期,
修改时间, parents' names...) may be empty in the schema: entry refuses them, and a version stored
before the field existed goes out and comes back with the platform's message to correct.
xmlschema (~11 MB and half a second) is imported at the first validation, not at start-up.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from gateway.core.clinic_time import CLINIC_TZ
from ledger.errors import UploadError
from ledger.vaccination_records import DoseRecord

if TYPE_CHECKING:
    import xmlschema

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "vaccination_record.xsd"
NS = "urn:coldchain:vaccination:1"


@functools.cache
def schema() -> xmlschema.XMLSchema:
    import xmlschema

    return xmlschema.XMLSchema(str(SCHEMA_PATH))


def record_fields(record: DoseRecord) -> list[tuple[str, str]]:
    person = record.recipient
    return [
        ("RecordId", record.record_id),
        ("Version", str(record.version)),
        ("ArchiveNo", person.archive_no),
        ("RecordStatus", record.status),
        ("IdNumber", person.id_number),
        ("Name", person.name),
        ("Sex", person.sex),
        ("BirthDate", person.birth_date.isoformat()),
        ("Phone", person.phone),
        ("Address", person.address),
        ("CrowdCategory", person.crowd_category),
        ("HouseholdCounty", person.household_county),
        ("CurrentArea", person.current_area),
        ("MaritalStatus", person.marital_status),
        ("Occupation", person.occupation),
        ("FatherName", person.father_name),
        ("MotherName", person.mother_name),
        ("GuardianName", person.guardian_name),
        ("ArchiveUnit", person.archive_unit),
        ("ManagementUnit", person.management_unit),
        ("ManagementStart", person.management_start.isoformat() if person.management_start else ""),
        ("RecipientUpdateUnit", person.updated_unit),
        ("RecipientUpdateTime", _local(person.updated_at)),
        ("VaccinationType", record.vaccination_type),
        ("VaccineAttribute", record.vaccine_attribute),
        ("VaccineCode", record.vaccine_code),
        ("ManufacturerCode", record.manufacturer_code),
        ("BatchNo", record.batch_no),
        ("TraceCode", record.trace_code),
        ("DoseNo", str(record.dose_no)),
        ("VaccinationTime", _local(record.vaccinated_at)),
        ("SiteCode", record.site_code),
        ("VaccinatorName", record.vaccinator),
        ("UnitCode", record.unit_code),
        ("UpdateUnit", record.unit_code),
        ("UpdateTime", _local(record.updated_at)),
    ]


def _local(moment: datetime | None) -> str:
    return moment.astimezone(CLINIC_TZ).isoformat(timespec="seconds") if moment else ""


def build(records: Iterable[DoseRecord]) -> bytes:
    root = ET.Element(f"{{{NS}}}VaccinationRecords")
    for record in records:
        element = ET.SubElement(root, f"{{{NS}}}Record")
        for name, value in record_fields(record):
            ET.SubElement(element, f"{{{NS}}}{name}").text = value
    ET.register_namespace("", NS)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def validate(document: bytes) -> None:
    """Raise UploadError naming the first offending element and why."""
    import xmlschema

    try:
        errors = list(schema().iter_errors(document.decode("utf-8")))
    except (xmlschema.XMLSchemaException, ET.ParseError, UnicodeDecodeError) as error:
        raise UploadError("xml", f"not well-formed: {error}") from None
    if errors:
        first = errors[0]
        path = first.path or "xml"
        problems = [(e.path or "xml", e.reason or str(e)) for e in errors[:20]]
        raise UploadError(path, first.reason or str(first), problems)


def build_validated(records: Iterable[DoseRecord]) -> bytes:
    document = build(records)
    validate(document)
    return document
