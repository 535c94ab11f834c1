"""Holds: while a compartment's too-warm, too-cold or probe-fault alarm is open, what is in it
is on hold at once. Receiving into it, moving into it and administering from it are refused
with a reason naming the alarm, unless a manager has overridden that hold with a reason (the
override and each movement it let through are recorded). When the alarm clears, the excursion
is recorded and the hold becomes the quarantine of the packages that were in it
(`gateway.storage.ledger.quarantine`).

Pure: the gateway answers `HoldLookup` from its alarms; the stock ledger asks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from gateway.core.clinic_time import CLINIC_TZ
from ledger.stock_errors import StockError, StockFieldEmptyError, StockTextTooLongError

MAX_OVERRIDE_REASON = 500

_KIND_WORDS = {
    "too_warm": "too warm",
    "too_cold": "too cold",
    "probe_fault": "probe fault",
}


@dataclass(frozen=True, slots=True)
class Override:
    """A manager's decision to go ahead despite one alarm's hold, and why."""

    who: str
    reason: str
    at: datetime

    def __post_init__(self) -> None:
        if not self.who.strip():
            raise StockFieldEmptyError("override", "an override needs who decided it")
        if not self.reason.strip():
            raise StockFieldEmptyError("reason", "empty: say why the hold may be overridden")
        if len(self.reason) > MAX_OVERRIDE_REASON:
            raise StockTextTooLongError(
                "reason",
                f"{len(self.reason)} characters, at most {MAX_OVERRIDE_REASON}: say it shorter",
                params={"length": len(self.reason), "limit": MAX_OVERRIDE_REASON},
            )


@dataclass(frozen=True, slots=True)
class Hold:
    """A compartment on hold: the alarm that holds it (its id, number, kind and since when),
    and the manager's override of it, if any."""

    compartment: str
    alarm_id: str
    alarm_no: int | None
    kind: str
    since: datetime
    override: Override | None = None

    @property
    def alarm(self) -> str:
        number = "" if self.alarm_no is None else f" #{self.alarm_no}"
        since = self.since.astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M")
        return f"alarm{number} ({_KIND_WORDS.get(self.kind, self.kind)} since {since})"


HoldLookup = Callable[[str], Hold | None]
"""The hold on a compartment now, or None."""


class HoldError(StockError):
    """The compartment is on hold; nothing was done. `hold` names the alarm."""

    code: ClassVar[str] = "stock_on_hold"

    def __init__(self, action: str, hold: Hold) -> None:
        self.hold = hold
        super().__init__(
            "compartment",
            f"{action} refused: {hold.compartment} is on hold while {hold.alarm} is open; "
            "fix: use the vaccines of a compartment in range, or a manager overrides with a "
            "reason",
            params={
                "action": action,
                "compartment": hold.compartment,
                "alarm_no": "" if hold.alarm_no is None else hold.alarm_no,
                "kind": hold.kind,
                "since": hold.since.astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M"),
            },
        )
