"""Proof of presence: scanning a fridge's own label at the clinic's scanner acknowledges that
fridge's open alarms (someone is standing at it)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway.core.errors import GatewayError
from ledger.codes import FridgeLabel, classify
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from gateway.alarms.engine import AlarmService
    from gateway.storage.scans import ScanListener, StoredScan

log = logging.getLogger(__name__)


def presence_listener(service: AlarmService, unit_code: str) -> ScanListener:
    """A scan listener: a fridge label of this unit acknowledges that fridge's open alarms;
    any other scan (a vaccine, an ID card) is not its business."""

    async def on_scan(stored: StoredScan) -> None:
        try:
            code = classify(stored.scan.raw)
        except LedgerError:
            return
        if not isinstance(code, FridgeLabel):
            return
        if code.unit_code != unit_code:
            log.warning(
                "scan %d at %s: label of fridge %s belongs to unit %s, not this unit %s",
                stored.seq,
                stored.scan.station,
                code.fridge_code,
                code.unit_code,
                unit_code,
            )
            return
        how = f"scan of the fridge label at {stored.scan.station} ({stored.scan.scanner})"
        try:
            transitions = service.acknowledge_presence(code.fridge_code, how)
        except GatewayError as error:
            log.warning(
                "scan %d: fridge %s label not taken as presence: %s",
                stored.seq,
                code.fridge_code,
                error,
            )
            return
        log.info(
            "scan %d: someone is at fridge %s (%s); %d alarm transition(s)",
            stored.seq,
            code.fridge_code,
            stored.scan.station,
            len(transitions),
        )

    return on_scan
