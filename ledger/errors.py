"""The ledger's exception tree. Every refusal names the field, the reason and its kind.

`LedgerError.field` is the name of the offending input field (e.g. ``batch_no``) and
`LedgerError.reason` says why in English, for API users and logs. `code` names the kind of
refusal: each rule a clinic user must act on in its own way (not enough doses, package already
received, batch expired...) is its own subclass with its own code, which the pages translate,
filling the translation's placeholders from `params` (quantity left, batch, expiry...); the
stock ledger's, `StockError` and its kinds, are in `ledger.stock_errors`.

Two names in `params` hold internal ids that the pages show by name (the HTTP edge resolves
them, `gateway.web.naming`): ``compartment`` (a compartment reference such as ``F1/冷藏``) and
``person`` (an account or alarm person id such as ``wang``).

Validation that finds several problems raises one error carrying all of them in `problems`
(the first one is `field`/`reason`), each a `FieldProblem` with its own `code`: record
validation names each problem by a `ProblemCode`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Self

from gateway.core.errors import ColdchainError

Params = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One field's problem: `code` names its kind (a translation key of the pages) and
    `params` fill the translation's placeholders."""

    field: str
    reason: str
    code: str
    params: Params = dataclasses.field(default_factory=dict)


class ProblemCode(StrEnum):
    """The kinds of problem that record validation finds in one field (a fixed set)."""

    VALUE_EMPTY = "value_empty"
    NOT_IN_CODE_TABLE = "not_in_code_table"
    SEX_INVALID = "sex_invalid"
    BIRTH_DATE_OUT_OF_RANGE = "birth_date_out_of_range"
    DIFFERS_FROM_ID_NUMBER = "differs_from_id_number"
    PHONE_INVALID = "phone_invalid"
    GUARDIAN_REQUIRED = "guardian_required"
    MOTHER_NAME_REQUIRED = "mother_name_required"
    VACCINE_UNKNOWN = "vaccine_unknown"
    MANUFACTURER_MISMATCH = "manufacturer_mismatch"
    DOSE_BEYOND_SCHEDULE = "dose_beyond_schedule"
    AGE_NOT_FIT = "age_not_fit"
    DOSE_TOO_YOUNG = "dose_too_young"
    DOSE_TOO_SOON = "dose_too_soon"
    TYPE_NOT_FOR_VACCINE = "type_not_for_vaccine"
    ATTRIBUTE_NOT_FOR_VACCINE = "attribute_not_for_vaccine"
    EMERGENCY_PAIR = "emergency_type_attribute_pair"
    MASS_PAIR = "mass_type_attribute_pair"
    UNIT_CODE_INVALID = "unit_code_invalid"
    DOSE_ALREADY_GIVEN = "dose_already_given"
    DOSE_OUT_OF_SEQUENCE = "dose_out_of_sequence"
    PACKAGE_MAKER_MISMATCH = "package_maker_mismatch"


def problem(
    field_name: str, reason: str, code: ProblemCode | str, **params: object
) -> FieldProblem:
    """One field's problem of kind `code`; `params` are the values its words need."""
    return FieldProblem(field_name, reason, str(code), params)


class LedgerError(ColdchainError):
    """Base of every error the ledger raises on purpose."""

    code: ClassVar[str] = "ledger_refused"

    def __init__(
        self,
        field: str,
        reason: str,
        problems: Sequence[FieldProblem | tuple[str, str]] = (),
        *,
        params: Params | None = None,
    ) -> None:
        self.field = field
        self.reason = reason
        self.params: dict[str, object] = dict(params or {})
        listed = tuple(
            item if isinstance(item, FieldProblem) else FieldProblem(*item, self.code)
            for item in problems
        )
        self.problems: tuple[FieldProblem, ...] = listed or (
            FieldProblem(field, reason, self.code, self.params),
        )
        super().__init__("; ".join(f"{item.field}: {item.reason}" for item in self.problems))

    @classmethod
    def many(cls, problems: Sequence[FieldProblem | tuple[str, str]]) -> Self:
        """One error for several problems; `problems` must not be empty. The first one leads
        (its field, reason and params)."""
        first = problems[0]
        if isinstance(first, FieldProblem):
            return cls(first.field, first.reason, problems, params=first.params)
        return cls(first[0], first[1], problems)


class ScanError(LedgerError):
    """A scan could not be classified, or its content is invalid."""

    code: ClassVar[str] = "scan_invalid"


class ScanEmptyError(ScanError):
    """Nothing was scanned: scan again."""

    code: ClassVar[str] = "scan_empty"


class ScanUnreadableError(ScanError):
    """The scanner sent something that is no code (too long, not text, two scans run
    together, a GS1 string that does not parse): scan again, slower."""

    code: ClassVar[str] = "scan_unreadable"


class ScanUnknownKindError(ScanError):
    """A readable code that is none of the kinds the clinic scans (trace code, GS1
    code, fridge label, ID card number)."""

    code: ClassVar[str] = "scan_unknown_kind"


class ScanNotPackageError(ScanError):
    """A fridge label or an ID card where a vaccine package was expected; `params`
    ``kind`` names what was scanned."""

    code: ClassVar[str] = "scan_not_package"


class IdNumberError(LedgerError):
    """A resident ID number (GB 11643) is malformed or its check digit is wrong."""

    code: ClassVar[str] = "id_number_invalid"


class BatchFieldError(LedgerError):
    """A batch field does not look like a batch number."""

    code: ClassVar[str] = "batch_field_invalid"


class ReferenceDataError(LedgerError):
    """A code table is missing or malformed."""

    code: ClassVar[str] = "reference_data_invalid"


class CatalogueError(LedgerError):
    """Shipment data cannot be imported, or a product, batch or trace code is unknown."""

    code: ClassVar[str] = "catalogue_refused"


class UnknownSerialError(CatalogueError):
    """A GS1 package whose serial is not in the shipment data of its batch (which lists its
    serials): a made-up or foreign package."""

    code: ClassVar[str] = "serial_unknown"


class TraceCodeUnknownError(CatalogueError):
    """A trace code the local catalogue does not hold: import the shipment data of the
    package first."""

    code: ClassVar[str] = "trace_code_unknown"


class GtinUnknownError(CatalogueError):
    """A GS1 code of a product (GTIN) the local catalogue does not hold."""

    code: ClassVar[str] = "gtin_unknown"


class Gs1IncompleteError(CatalogueError):
    """A GS1 code without batch (AI 10) or serial (AI 21): not a package's code."""

    code: ClassVar[str] = "gs1_incomplete"


class BatchUnknownError(CatalogueError):
    """A batch of a known product that the catalogue does not hold."""

    code: ClassVar[str] = "batch_unknown"


class ExpiryMismatchError(CatalogueError):
    """The expiry on the label differs from the catalogue's for its batch."""

    code: ClassVar[str] = "expiry_mismatch"


class CatalogueEntryMissingError(CatalogueError):
    """A package whose product or batch is no longer in the catalogue."""

    code: ClassVar[str] = "catalogue_entry_missing"


class ShipmentInvalidError(CatalogueError):
    """Shipment data (JSON or CSV) that cannot be read; `field` names the row and key."""

    code: ClassVar[str] = "shipment_invalid"


class CatalogueConflictError(CatalogueError):
    """Shipment data that contradicts what the catalogue holds (other product data,
    batch dates, a trace code of another batch): corrections go back to whoever entered it."""

    code: ClassVar[str] = "catalogue_conflict"


class UnitsFileInvalidError(CatalogueError):
    """A list of units that cannot be read."""

    code: ClassVar[str] = "unit_list_invalid"


class RecordError(LedgerError):
    """A recipient or vaccination record is refused by validation."""

    code: ClassVar[str] = "record_invalid"


class DuplicatePersonError(RecordError):
    """The person has an archive already (重卡): same ID number, or for a person without one
    the same name, birth date and parent or guardian. Nothing was stored."""

    code: ClassVar[str] = "person_duplicate"


class RecordFieldEmptyError(RecordError):
    """A field a record's change needs is empty (the reason of a correction or a
    deletion, who read a record)."""

    code: ClassVar[str] = "record_field_empty"


class RecipientUnknownError(RecordError):
    """An archive number that names no registered recipient."""

    code: ClassVar[str] = "recipient_unknown"


class DoseUnknownError(RecordError):
    """A record id that names no recorded dose."""

    code: ClassVar[str] = "dose_unknown"


class DoseDeletedError(RecordError):
    """A change to a dose record that was deleted."""

    code: ClassVar[str] = "dose_deleted"


class FieldNotCorrectableError(RecordError):
    """A correction of a field that comes from the scan (vaccine, batch, trace
    code): delete the record and record the dose again."""

    code: ClassVar[str] = "field_not_correctable"


class UploadError(LedgerError):
    """An upload cannot be built, validated or sent."""

    code: ClassVar[str] = "upload_refused"


class PlatformUnreachableError(UploadError):
    """The provincial platform did not answer: the upload is retried."""

    code: ClassVar[str] = "platform_unreachable"


class PlatformAnswerError(UploadError):
    """The provincial platform answered with an error or an unreadable answer."""

    code: ClassVar[str] = "platform_answer_refused"


class CirculationUnknownError(UploadError):
    """A correction of a circulation message that does not exist."""

    code: ClassVar[str] = "circulation_unknown"


class CirculationNotRejectedError(UploadError):
    """A correction of a circulation message the platform did not reject."""

    code: ClassVar[str] = "circulation_not_rejected"


class CirculationVersionStaleError(UploadError):
    """A correction of an older version of a circulation message: reload it."""

    code: ClassVar[str] = "circulation_version_stale"


class LedgerStoreError(LedgerError):
    """The ledger database cannot be opened or written."""

    code: ClassVar[str] = "ledger_store_failed"
