"""Proof of presence: scanning a fridge's own label at the clinic's scanner acknowledges that
fridge's open alarms (someone is standing at it).

The scan acts for an account (the one that posted it over HTTP, or the one its station is
assigned to), checked by the one policy as an acknowledgement made on the alarm routes: the
account needs `alarm_ack` and an alarm person, and the timeline records that person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.auth.policy import Action, User, alarm_person, authorize
from gateway.core.errors import GatewayError
from ledger.codes import FridgeLabel, classify
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from gateway.alarms.engine import AlarmService
    from gateway.storage.scans import ScanListener, StoredScan

log = logging.getLogger(__name__)


def presence_listener(
    service: AlarmService, unit_code: str, acts_for: Callable[[StoredScan], User]
) -> ScanListener:
    """A scan listener: a fridge label of this unit acknowledges that fridge's open alarms
    for the account the scan acts for (`acts_for`); any other scan (a vaccine, an ID card)
    is not its business."""

    async def on_scan(stored: StoredScan) -> None:
        try:
            code = classify(stored.scan.raw)
        except LedgerError:
            return
        if not isinstance(code, FridgeLabel):
            return
        where = f"{stored.scan.station} ({stored.scan.scanner})"
        if code.unit_code != unit_code:
            log.warning(
                "scan %d at %s: label of fridge %s belongs to unit %s, not this unit %s",
                stored.seq,
                where,
                code.fridge_code,
                code.unit_code,
                unit_code,
            )
            return
        people = {p for tier in (1, 2, 3) for p in service.alerts.tier_people(tier)}
        try:
            user = authorize(acts_for(stored), Action.ALARM_ACK)
            person = alarm_person(user, people=people)
            transitions = service.acknowledge_presence(
                code.fridge_code, person, f"scan of the fridge label at {where}"
            )
        except GatewayError as error:  # forbidden, or the alarm store failed
            log.warning(
                "scan %d at %s: fridge %s label not taken as presence (%s): %s",
                stored.seq,
                where,
                code.fridge_code,
                error.code,
                error,
            )
            return
        log.info(
            "scan %d: %s is at fridge %s (%s); %d alarm transition(s)",
            stored.seq,
            user.name,
            code.fridge_code,
            where,
            len(transitions),
        )

    return on_scan
