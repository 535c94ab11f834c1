"""The ledger's exception tree. Every refusal names the field and the reason.

`LedgerError.field` is the name of the offending input field (e.g. ``batch_no``) and
`LedgerError.reason` says why, in words a clinic user can act on. Validation that finds several
problems raises one error carrying all of them in `problems` (the first one is `field`/`reason`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Self

from gateway.core.errors import ColdchainError


class LedgerError(ColdchainError):
    """Base of every error the ledger raises on purpose."""

    code: ClassVar[str] = "ledger_refused"

    def __init__(self, field: str, reason: str, problems: Sequence[tuple[str, str]] = ()) -> None:
        self.field = field
        self.reason = reason
        self.problems: tuple[tuple[str, str], ...] = tuple(problems) or ((field, reason),)
        text = "; ".join(f"{name}: {why}" for name, why in self.problems)
        super().__init__(text)

    @classmethod
    def many(cls, problems: Sequence[tuple[str, str]]) -> Self:
        """One error for several (field, reason) problems; `problems` must not be empty."""
        field, reason = problems[0]
        return cls(field, reason, problems)


class ScanError(LedgerError):
    """A scan could not be classified, or its content is invalid."""

    code: ClassVar[str] = "scan_invalid"


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


class StockError(LedgerError):
    """A stock movement is refused (lifecycle, approval, balance)."""

    code: ClassVar[str] = "stock_refused"


class EventConflictError(StockError):
    """An event or approval id is reused for a different movement: nothing was done (the same
    payload again is idempotent and answers the first outcome)."""

    code: ClassVar[str] = "event_id_conflict"


class RecordError(LedgerError):
    """A recipient or vaccination record is refused by validation."""

    code: ClassVar[str] = "record_invalid"


class DuplicatePersonError(RecordError):
    """The person has an archive already (重卡): same ID number, or for a person without one
    the same name, birth date and parent or guardian. Nothing was stored."""

    code: ClassVar[str] = "person_duplicate"


class UploadError(LedgerError):
    """An upload cannot be built, validated or sent."""

    code: ClassVar[str] = "upload_refused"


class LedgerStoreError(LedgerError):
    """The ledger database cannot be opened or written."""

    code: ClassVar[str] = "ledger_store_failed"
