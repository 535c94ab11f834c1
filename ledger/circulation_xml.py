"""The circulation upload: receipts, issues, returns and scraps of packages, one message (and
one XSD, ``ledger/schema/circulation_<kind>.xsd``) per kind, validated before anything is sent.

Seed 003: "完成所有疫苗流通、使用等全部数据上传"; seed 004: the clinic reports circulation
events per trace code. A stock movement becomes a `CirculationEvent` when it is recorded (in
the same transaction); a rejected one may be corrected, which makes a new version.
xmlschema is imported at the first validation (upload_xml.py says why).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from gateway.core.clinic_time import CLINIC_TZ
from ledger.errors import UploadError

if TYPE_CHECKING:
    import xmlschema

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
#: kind -> (root element, 业务类型 code)
MESSAGES = {
    "receive": ("ReceiveEvents", "01"),
    "issue": ("IssueEvents", "02"),
    "return": ("ReturnEvents", "03"),
    "scrap": ("ScrapEvents", "04"),
}
KINDS = tuple(MESSAGES)


def namespace(kind: str) -> str:
    return f"urn:coldchain:circulation:{kind}:1"


@functools.cache
def schema(kind: str) -> xmlschema.XMLSchema:
    import xmlschema

    if kind not in MESSAGES:
        raise UploadError("kind", f"{kind!r} is no circulation message; one of {', '.join(KINDS)}")
    return xmlschema.XMLSchema(str(SCHEMA_DIR / f"circulation_{kind}.xsd"))


@dataclass(frozen=True, slots=True)
class CirculationEvent:
    """One circulation message as stored in the upload queue (`to_json` / `from_json`)."""

    event_id: str
    version: int
    kind: str
    unit_code: str
    trace_code: str
    vaccine_code: str
    manufacturer_code: str
    batch_no: str
    expiry_date: date
    packages: int
    doses: int
    at: datetime
    operator: str
    to_unit: str = ""  # issue and return: the receiving unit
    reason_code: str = ""  # scrap: 疫苗报废原因代码
    approved_by: str = ""  # return and scrap: the upper level's account
    reason: str = ""

    def corrected(self, *, to_unit: str | None, reason_code: str | None) -> CirculationEvent:
        """The next version with the corrected fields (None: unchanged)."""
        if self.kind not in {"issue", "return"} and to_unit is not None:
            raise UploadError("to_unit", f"a {self.kind} message names no receiving unit")
        if self.kind != "scrap" and reason_code is not None:
            raise UploadError("reason_code", f"a {self.kind} message has no scrap reason code")
        return replace(
            self,
            version=self.version + 1,
            to_unit=self.to_unit if to_unit is None else to_unit,
            reason_code=self.reason_code if reason_code is None else reason_code,
        )


def to_json(event: CirculationEvent) -> str:
    fields = asdict(event)
    fields["expiry_date"] = event.expiry_date.isoformat()
    fields["at"] = event.at.isoformat()
    return json.dumps(fields, ensure_ascii=False, sort_keys=True)


def from_json(text: str) -> CirculationEvent:
    fields: dict[str, Any] = json.loads(text)
    fields["expiry_date"] = date.fromisoformat(fields["expiry_date"])
    fields["at"] = datetime.fromisoformat(fields["at"])
    return CirculationEvent(**fields)


def event_fields(event: CirculationEvent) -> list[tuple[str, str]]:
    """The elements of one event in the order of its kind's XSD."""
    _, business_type = MESSAGES[event.kind]
    head = [
        ("EventId", event.event_id),
        ("Version", str(event.version)),
        ("BusinessType", business_type),
        ("UnitCode", event.unit_code),
    ]
    if event.kind in {"issue", "return"}:
        head += [("OutUnitCode", event.unit_code), ("InUnitCode", event.to_unit)]
    elif event.kind == "scrap":
        head.append(("ScrapReasonCode", event.reason_code))
    body = [
        ("TraceCode", event.trace_code),
        ("VaccineCode", event.vaccine_code),
        ("ManufacturerCode", event.manufacturer_code),
        ("BatchNo", event.batch_no),
        ("ExpiryDate", event.expiry_date.isoformat()),
        ("Packages", str(event.packages)),
        ("Doses", str(event.doses)),
        ("EventTime", event.at.astimezone(CLINIC_TZ).isoformat(timespec="seconds")),
        ("Operator", event.operator),
    ]
    if event.kind in {"return", "scrap"}:
        body += [("ApprovedBy", event.approved_by), ("Reason", event.reason)]
    return head + body


def build(kind: str, events: Iterable[CirculationEvent]) -> bytes:
    root_name, _ = MESSAGES[kind]
    ns = namespace(kind)
    root = ET.Element(f"{{{ns}}}{root_name}")
    for event in events:
        if event.kind != kind:
            raise UploadError("kind", f"{event.event_id} is a {event.kind}, not a {kind}")
        element = ET.SubElement(root, f"{{{ns}}}Event")
        for name, value in event_fields(event):
            ET.SubElement(element, f"{{{ns}}}{name}").text = value
    ET.register_namespace("", ns)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def kind_of(document: bytes) -> str:
    """Which message a document is, by its root element; UploadError if none."""
    try:
        root = ET.fromstring(document)  # noqa: S314 - our own or a test's document, no entities
    except ET.ParseError as error:
        raise UploadError("xml", f"not well-formed: {error}") from None
    for kind, (root_name, _) in MESSAGES.items():
        if root.tag == f"{{{namespace(kind)}}}{root_name}":
            return kind
    raise UploadError("xml", f"{root.tag} is no circulation message")


def validate(kind: str, document: bytes) -> None:
    """Raise UploadError naming the first offending element and why."""
    import xmlschema

    try:
        errors = list(schema(kind).iter_errors(document.decode("utf-8")))
    except (xmlschema.XMLSchemaException, ET.ParseError, UnicodeDecodeError) as error:
        raise UploadError("xml", f"not well-formed: {error}") from None
    if errors:
        first = errors[0]
        problems = [(e.path or "xml", e.reason or str(e)) for e in errors[:20]]
        raise UploadError(first.path or "xml", first.reason or str(first), problems)


def build_validated(kind: str, events: Iterable[CirculationEvent]) -> bytes:
    document = build(kind, events)
    validate(kind, document)
    return document
