"""The stock ledger's refusals: `StockError` (a movement refused) and a subclass with its own
code for each rule a clinic user acts on in its own way (not enough doses, package already
received, batch expired...). The tree, `params` and field problems: `ledger.errors`."""

from __future__ import annotations

from typing import ClassVar

from ledger.errors import LedgerError


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
