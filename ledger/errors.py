"""The ledger's exception tree. Every refusal names the field, the reason and its kind.

`LedgerError.field` is the name of the offending input field (e.g. ``batch_no``) and
`LedgerError.reason` says why in English, for API users and logs. `code` names the kind of
refusal: each rule a clinic user must act on in its own way (not enough doses, package already
received, batch expired...) is its own subclass with its own code, which the pages translate,
filling the translation's placeholders from `params` (quantity left, batch, expiry...).

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


class StockError(LedgerError):
    """A stock movement is refused (lifecycle, approval, balance)."""

    code: ClassVar[str] = "stock_refused"


class EventConflictError(StockError):
    """An event or approval id is reused for a different movement: nothing was done (the same
    payload again is idempotent and answers the first outcome)."""

    code: ClassVar[str] = "event_id_conflict"


class StockFieldEmptyError(StockError):
    """A field a movement needs is empty (who, why, which unit, which packages)."""

    code: ClassVar[str] = "stock_field_empty"


class StockTextTooLongError(StockError):
    """A text beyond its length limit (`params`: length, limit)."""

    code: ClassVar[str] = "stock_text_too_long"


class StockChoiceInvalidError(StockError):
    """A value that is not one of the field's choices (`params`: value, choices)."""

    code: ClassVar[str] = "stock_choice_invalid"


class PackageNotReceivedError(StockError):
    """The package was never received here: receive it first (扫码入库)."""

    code: ClassVar[str] = "package_not_received"


class PackageAlreadyReceivedError(StockError):
    """The package was received already: a second receipt would count it twice."""

    code: ClassVar[str] = "package_already_received"


class PackageNotInStockError(StockError):
    """The package left the stock (issued, returned, scrapped...): `params` state."""

    code: ClassVar[str] = "package_not_in_stock"


class PackageUsedUpError(StockError):
    """Every dose of the package was given already."""

    code: ClassVar[str] = "package_used_up"


class PackageHeldForApprovalError(StockError):
    """The package waits for an upper level's decision on a request."""

    code: ClassVar[str] = "package_held_for_approval"


class PackageQuarantinedError(StockError):
    """The package was in a compartment during an excursion: record a disposition
    (usable / discard) first."""

    code: ClassVar[str] = "package_quarantined"


class PackageToBeDiscardedError(StockError):
    """An excursion's disposition said to discard the package."""

    code: ClassVar[str] = "package_to_be_discarded"


class VialPastDiscardTimeError(StockError):
    """An opened vial past its discard time: discard its remaining doses."""

    code: ClassVar[str] = "vial_past_discard_time"


class BatchExpiredError(StockError):
    """The package's batch is past its expiry date."""

    code: ClassVar[str] = "batch_expired"


class NotEnoughStockError(StockError):
    """The movement would take the batch's balance below zero: fewer doses or
    packages on the books than asked."""

    code: ClassVar[str] = "not_enough_stock"


class AdjustmentEmptyError(StockError):
    """A stocktake adjustment that changes neither doses nor packages."""

    code: ClassVar[str] = "adjustment_empty"


class DayNotBegunError(StockError):
    """Closing a vaccination day that has not begun."""

    code: ClassVar[str] = "day_not_begun"


class PeriodReversedError(StockError):
    """A period whose end is before its start."""

    code: ClassVar[str] = "period_reversed"


class MonthInvalidError(StockError):
    """A month that is not YYYY-MM with a month from 01 to 12."""

    code: ClassVar[str] = "month_invalid"


class CompartmentUnknownError(StockError):
    """A compartment that the gateway's configuration does not have."""

    code: ClassVar[str] = "compartment_unknown"


class CompartmentNotOnHoldError(StockError):
    """An override of a hold on a compartment that is not on hold."""

    code: ClassVar[str] = "compartment_not_on_hold"


class PackageAlreadyPlacedError(StockError):
    """Placing a package that has a place already: scan it as a move."""

    code: ClassVar[str] = "package_already_placed"


class MoveToSameCompartmentError(StockError):
    """Moving a package into the compartment it is in."""

    code: ClassVar[str] = "move_to_same_compartment"


class PackageScannedTwiceError(StockError):
    """One package scanned twice in one flow."""

    code: ClassVar[str] = "package_scanned_twice"


class NothingToPlaceError(StockError):
    """A batch placement when no package of the batch is in stock without a place."""

    code: ClassVar[str] = "nothing_to_place"


class PlacementCountMismatchError(StockError):
    """The packages counted on the shelf differ from the unplaced packages on the
    books."""

    code: ClassVar[str] = "placement_count_mismatch"


class UnitUnknownError(StockError):
    """A unit code the catalogue of units does not hold: import the unit list."""

    code: ClassVar[str] = "unit_unknown"


class IssueToOwnUnitError(StockError):
    """Issuing to this very unit."""

    code: ClassVar[str] = "issue_to_own_unit"


class IssueUpwardError(StockError):
    """Issuing to a unit of a higher level: that is a return, which the upper level
    approves."""

    code: ClassVar[str] = "issue_upward"


class SameLevelIssueForbiddenError(StockError):
    """A vaccinating unit issuing to the same level (接种单位不能平级出库)."""

    code: ClassVar[str] = "same_level_issue_forbidden"


class ReturnNotUpwardError(StockError):
    """A return to a unit that is not of a higher level."""

    code: ClassVar[str] = "return_not_upward"


class ApprovalRequiredError(StockError):
    """A same-level issue without the upper level's approval: ask for it first."""

    code: ClassVar[str] = "approval_required"


class ApprovalNotNeededError(StockError):
    """An approval asked for an issue down, which needs none: issue directly."""

    code: ClassVar[str] = "approval_not_needed"


class ApprovalKindUnknownError(StockError):
    """An approval asked for a movement that needs none (only returns, scraps and
    same-level issues do)."""

    code: ClassVar[str] = "approval_kind_unknown"


class ScrapReasonUnknownError(StockError):
    """A scrap without a known reason code (疫苗报废原因代码)."""

    code: ClassVar[str] = "scrap_reason_unknown"


class FieldNotForKindError(StockError):
    """A field given to a movement that has none: a scrap goes to no unit, only a
    scrap has a reason code."""

    code: ClassVar[str] = "field_not_for_kind"


class ApprovalUnknownError(StockError):
    """A decision on a request that is not pending."""

    code: ClassVar[str] = "approval_unknown"


class VvmPastDiscardError(StockError):
    """A vaccine vial monitor at or past its discard point declared usable."""

    code: ClassVar[str] = "vvm_past_discard"


class NeverExposedError(StockError):
    """A disposition for packages that no excursion exposed."""

    code: ClassVar[str] = "never_exposed"


class AlreadyDecidedError(StockError):
    """A disposition for packages whose every excursion is decided already."""

    code: ClassVar[str] = "already_decided"


class PlanAlreadyReviewedError(StockError):
    """A requisition plan reviewed already (`params`: month, person, at)."""

    code: ClassVar[str] = "plan_already_reviewed"


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
