"""Excursions, the packages they exposed, quarantine and dispositions.

An excursion (a compartment out of range from `start` to `end`) is recorded once with its
exposure and every package that was in the compartment at any moment of it
(`StockLocations.present_during`). Those packages are quarantined: `held_refusal` (called by the
stock ledger before a dose is given) refuses them until a disposition covers them, per batch or
per package, for every excursion they went through. A disposition names who decided, may carry
the VVM stage read, and stores the proposal the stability data made; a discard asks for the
scrap of the packages still on hand through the stock ledger's approval flow.

Exposures are kept against the compartment's range and against each (freeze, heat) threshold
pair of the stability data, so the proposal adds up a package's exposure over all excursions.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gateway.core.clinic_time import CLINIC_TZ
from gateway.storage.ledger.db import LedgerDB, from_ms, to_ms
from ledger.exposure import Exposure
from ledger.stability import DISCARD, USABLE, Proposal, StabilityTable, propose
from ledger.stock_errors import (
    AlreadyDecidedError,
    NeverExposedError,
    PackageQuarantinedError,
    PackageToBeDiscardedError,
    StockChoiceInvalidError,
    StockError,
    StockFieldEmptyError,
    VvmPastDiscardError,
)

if TYPE_CHECKING:
    from gateway.storage.ledger.locations import StockLocations
    from gateway.storage.ledger.stock import StockLedger

Thresholds = tuple[float, float]

#: 疫苗报废原因 of a discard decided after an excursion: 冷链温度异常 (scrap_reasons_sample.csv)
EXCURSION_SCRAP_REASON = "02"

_HELD = (
    "SELECT u.excursion_id, x.compartment, x.start_ms, x.end_ms,"
    " (SELECT decision || '|' || decided_by FROM dispositions d WHERE d.excursion_id ="
    "  u.excursion_id AND d.code = u.code ORDER BY d.seq DESC LIMIT 1),"
    " (SELECT decision || '|' || decided_by FROM dispositions d WHERE d.excursion_id ="
    "  u.excursion_id AND d.code = '' AND d.product_id = u.product_id"
    "  AND d.batch_no = u.batch_no ORDER BY d.seq DESC LIMIT 1)"
    " FROM excursion_units u JOIN excursions x USING (excursion_id) WHERE u.code = ?"
    " ORDER BY x.start_ms"
)


@dataclass(frozen=True, slots=True)
class ExposedUnit:
    code: str
    product_id: str
    batch_no: str
    doses_left: int


@dataclass(frozen=True, slots=True)
class Excursion:
    excursion_id: str
    compartment: str
    start: datetime
    end: datetime
    source: str
    exposure: Exposure
    by_thresholds: dict[Thresholds, Exposure]
    units: tuple[ExposedUnit, ...]

    @property
    def batches(self) -> dict[tuple[str, str], list[ExposedUnit]]:
        grouped: dict[tuple[str, str], list[ExposedUnit]] = defaultdict(list)
        for unit in self.units:
            grouped[(unit.product_id, unit.batch_no)].append(unit)
        return dict(sorted(grouped.items()))

    @property
    def doses(self) -> int:
        return sum(unit.doses_left for unit in self.units)

    def exposure_for(self, thresholds: Thresholds | None) -> Exposure:
        """Against a product's thresholds when measured so, else against the range."""
        if thresholds is None:
            return self.exposure
        return self.by_thresholds.get(thresholds, self.exposure)


@dataclass(frozen=True, slots=True)
class Disposition:
    excursions: tuple[str, ...]
    decision: str
    decided_by: str
    proposal: Proposal
    approval_id: str | None  # the scrap request, for a discard of packages still on hand


def held_refusal(db: LedgerDB, code: str) -> StockError | None:
    """Why `code` may not be used now (quarantined or to be discarded), or None."""
    with db.translated("read quarantine"):
        rows = db.conn.execute(_HELD, (code,)).fetchall()
    for excursion_id, compartment, start_ms, end_ms, by_unit, by_batch in rows:
        decided = by_unit or by_batch
        when = f"{_local(from_ms(start_ms))}–{_local(from_ms(end_ms))}"
        params = {
            "code": code,
            "start": _local(from_ms(start_ms)),
            "end": _local(from_ms(end_ms)),
            "excursion_id": excursion_id,
        }
        if decided is None:
            return PackageQuarantinedError(
                "trace_code",
                f"{code}: quarantined: it was in {compartment} during the excursion {when}"
                f" ({excursion_id}); record a disposition (usable / discard) first",
                params=params | {"compartment": compartment},
            )
        decision, _, who = str(decided).partition("|")
        if decision == DISCARD:
            return PackageToBeDiscardedError(
                "trace_code",
                f"{code}: to be discarded after the excursion {when} ({excursion_id}),"
                f" decided by {who}",
                params=params | {"person": who},
            )
    return None


class Quarantine:
    def __init__(
        self, db: LedgerDB, stock: StockLedger, locations: StockLocations,
        stability: StabilityTable,
    ) -> None:  # fmt: skip
        self.db = db
        self.stock = stock
        self.locations = locations
        self.stability = stability

    # -- excursions ------------------------------------------------------------------------

    def record(
        self, excursion_id: str, compartment: str, start: datetime, end: datetime, *,
        source: str, exposure: Exposure, by_thresholds: dict[Thresholds, Exposure],
    ) -> Excursion:  # fmt: skip
        """Record an excursion and quarantine what it exposed; the same id again returns the
        first record unchanged."""
        if not excursion_id.strip():
            raise StockFieldEmptyError("excursion_id", "empty")
        with self.db.transaction("record excursion") as conn:
            known = self.excursion(excursion_id)
            if known is not None:
                return known
            units = self.locations.present_during(compartment, start, end)
            thresholds = [
                {"freeze_c": low, "heat_c": high, "exposure": e.to_json()}
                for (low, high), e in sorted(by_thresholds.items())
            ]
            conn.execute(
                "INSERT INTO excursions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (excursion_id, compartment, to_ms(start), to_ms(end), source,
                 to_ms(self.stock.clock.now()), json.dumps(exposure.to_json()),
                 json.dumps(thresholds)),
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO excursion_units VALUES (?, ?, ?, ?)",
                [(excursion_id, u.code, u.product_id, u.batch_no) for u in units],
            )
        recorded = self.excursion(excursion_id)
        assert recorded is not None
        return recorded

    def excursion(self, excursion_id: str) -> Excursion | None:
        with self.db.translated("read excursion"):
            row = self.db.conn.execute(
                "SELECT excursion_id, compartment, start_ms, end_ms, source, exposure,"
                " by_thresholds FROM excursions WHERE excursion_id = ?",
                (excursion_id,),
            ).fetchone()
            if row is None:
                return None
            codes = self.db.conn.execute(
                "SELECT code, product_id, batch_no FROM excursion_units WHERE excursion_id = ?"
                " ORDER BY code",
                (excursion_id,),
            ).fetchall()
        held = self.locations.held_at([c for c, _, _ in codes], row[3], ever=True)
        doses = {unit.code: unit.doses_left for unit in held}
        units = tuple(ExposedUnit(c, p, b, doses.get(c, 0)) for c, p, b in codes)
        by_thresholds = {
            (float(item["freeze_c"]), float(item["heat_c"])): Exposure.from_json(item["exposure"])
            for item in json.loads(row[6])
        }
        return Excursion(
            row[0], row[1], from_ms(row[2]), from_ms(row[3]), row[4],
            Exposure.from_json(json.loads(row[5])), by_thresholds, units,
        )  # fmt: skip

    def excursion_ids(self, limit: int = 100) -> list[str]:
        with self.db.translated("read excursions"):
            rows = self.db.conn.execute(
                "SELECT excursion_id FROM excursions ORDER BY start_ms DESC LIMIT ?", (limit,)
            ).fetchall()
        return [row[0] for row in rows]

    def last_end(self, source: str) -> datetime | None:
        """When the last excursion recorded from `source` (e.g. one alarm) ended."""
        with self.db.translated("read excursions"):
            row = self.db.conn.execute(
                "SELECT MAX(end_ms) FROM excursions WHERE source = ?", (source,)
            ).fetchone()
        return None if row[0] is None else from_ms(row[0])

    def month_figures(self, year: int, month: int) -> dict[str, Any]:
        """For the monthly report: excursions that began in the month (local time), and the
        packages and doses they exposed, per vaccine."""
        start = datetime(year, month, 1, tzinfo=CLINIC_TZ)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=CLINIC_TZ)
        with self.db.translated("read excursions of a month"):
            ids = [row[0] for row in self.db.conn.execute(
                "SELECT excursion_id FROM excursions WHERE start_ms >= ? AND start_ms < ?"
                " ORDER BY start_ms", (to_ms(start), to_ms(end)),
            )]  # fmt: skip
        by_vaccine: dict[str, int] = defaultdict(int)
        packages = 0
        for excursion_id in ids:
            excursion = self.excursion(excursion_id)
            assert excursion is not None
            packages += len(excursion.units)
            for unit in excursion.units:
                product = self.stock.catalogue.product(unit.product_id)
                by_vaccine[product.vaccine_code if product else unit.product_id] += unit.doses_left
        return {
            "month": f"{year:04d}-{month:02d}",
            "excursions": len(ids),
            "packages_exposed": packages,
            "doses_exposed": sum(by_vaccine.values()),
            "doses_by_vaccine": dict(sorted(by_vaccine.items())),
        }

    # -- quarantine ------------------------------------------------------------------------

    def quarantined(self) -> list[dict[str, Any]]:
        """Packages on hand that may not be used now, with the reason."""
        with self.db.translated("read quarantine"):
            rows = self.db.conn.execute(
                "SELECT DISTINCT code, product_id, batch_no FROM excursion_units ORDER BY code"
            ).fetchall()
        held = self.locations.held_at([code for code, _, _ in rows], to_ms(self.stock.clock.now()))
        on_hand = {unit.code: unit.doses_left for unit in held}
        result = []
        for code, product_id, batch_no in rows:
            refusal = held_refusal(self.db, code) if code in on_hand else None
            if refusal is not None:
                result.append({"code": code, "product_id": product_id, "batch_no": batch_no,
                               "doses_left": on_hand[code], "reason": refusal.reason,
                               "reason_code": refusal.code, "params": refusal.params})  # fmt: skip
        return result

    def proposal(
        self, product_id: str, batch_no: str, code: str | None = None,
        vvm_stage: int | None = None,
    ) -> Proposal:  # fmt: skip
        """What the stability data says of a batch (or one package of it), over every
        excursion it went through."""
        product = self.stock.catalogue.product(product_id)
        entry = self.stability.for_product(product) if product is not None else None
        thresholds = entry.thresholds if entry is not None else None
        exposures = [
            excursion.exposure_for(thresholds)
            for excursion in self._excursions_of(product_id, batch_no, code)
        ]
        return propose(entry, exposures, vvm_stage)

    def dispose(
        self, product_id: str, batch_no: str, *, decision: str, decided_by: str,
        recorded_by: str, code: str | None = None, vvm_stage: int | None = None, note: str = "",
    ) -> Disposition:  # fmt: skip
        """Record a disposition for a batch (or one package) on every excursion where it is
        still undecided; a discard asks to scrap the packages still on hand."""
        if not decided_by.strip():
            raise StockFieldEmptyError("decided_by", "empty: a disposition records who decided it")
        if not recorded_by.strip():
            raise StockFieldEmptyError("recorded_by", "empty")
        if decision not in (USABLE, DISCARD):
            raise StockChoiceInvalidError(
                "decision",
                f"{decision!r}: say usable or discard",
                params={"value": decision, "choices": f"{USABLE} / {DISCARD}"},
            )
        if vvm_stage is not None and not 1 <= vvm_stage <= 4:
            raise StockChoiceInvalidError(
                "vvm_stage",
                f"{vvm_stage}: a VVM reads stage 1, 2, 3 or 4",
                params={"value": vvm_stage, "choices": "1 / 2 / 3 / 4"},
            )
        proposal = self.proposal(product_id, batch_no, code, vvm_stage)
        if decision == USABLE and vvm_stage is not None and vvm_stage >= 3:
            raise VvmPastDiscardError(
                "vvm_stage",
                f"stage {vvm_stage} is past the discard point",
                params={"stage": vvm_stage},
            )
        what = f"package {code}" if code else f"batch {product_id}/{batch_no}"
        with self.db.transaction("record disposition") as conn:
            exposed = self._excursions_of(product_id, batch_no, code)
            if not exposed:
                raise NeverExposedError(
                    "code" if code else "batch_no",
                    f"{what} was never exposed: no excursion holds it, nothing to release",
                    params={"what": code or f"{product_id}/{batch_no}"},
                )
            open_ids = [
                x.excursion_id
                for x in exposed
                if not self._decided(x.excursion_id, code, product_id, batch_no)
            ]
            if not open_ids:
                raise AlreadyDecidedError(
                    "batch_no",
                    f"{what}: every excursion of it is decided already",
                    params={"what": code or f"{product_id}/{batch_no}"},
                )
            approval_id = None
            if decision == DISCARD:
                approval_id = self._request_scrap(
                    exposed, code, product_id, batch_no, decided_by=decided_by, open_ids=open_ids
                )
            now = to_ms(self.stock.clock.now())
            conn.executemany(
                "INSERT INTO dispositions (excursion_id, product_id, batch_no, code, decision,"
                " vvm_stage, decided_by, recorded_by, at_ms, proposal, note, approval_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(excursion_id, product_id, batch_no, code or "", decision, vvm_stage,
                  decided_by, recorded_by, now, json.dumps(proposal.to_json(), ensure_ascii=False),
                  note, approval_id or "") for excursion_id in open_ids],
            )  # fmt: skip
        return Disposition(tuple(open_ids), decision, decided_by, proposal, approval_id)

    def dispositions(self, excursion_id: str) -> list[dict[str, Any]]:
        with self.db.translated("read dispositions"):
            rows = self.db.conn.execute(
                "SELECT product_id, batch_no, code, decision, vvm_stage, decided_by,"
                " recorded_by, at_ms, proposal, note, approval_id FROM dispositions"
                " WHERE excursion_id = ? ORDER BY seq",
                (excursion_id,),
            ).fetchall()
        keys = ("product_id", "batch_no", "code", "decision", "vvm_stage", "decided_by",
                "recorded_by", "at", "proposal", "note", "approval_id")  # fmt: skip
        return [
            dict(zip(keys, (*row[:7], from_ms(row[7]).isoformat(), json.loads(row[8]),
                            *row[9:]), strict=True))
            for row in rows
        ]  # fmt: skip

    # -- internals -------------------------------------------------------------------------

    def _excursions_of(self, product_id: str, batch_no: str, code: str | None) -> list[Excursion]:
        with self.db.translated("read exposed excursions"):
            if code:
                rows = self.db.conn.execute(
                    "SELECT excursion_id FROM excursion_units WHERE code = ? AND product_id = ?"
                    " AND batch_no = ?",
                    (code, product_id, batch_no),
                ).fetchall()
            else:
                rows = self.db.conn.execute(
                    "SELECT DISTINCT excursion_id FROM excursion_units WHERE product_id = ?"
                    " AND batch_no = ?",
                    (product_id, batch_no),
                ).fetchall()
        found = [self.excursion(excursion_id) for (excursion_id,) in rows]
        return sorted((x for x in found if x is not None), key=lambda x: x.start)

    def _decided(self, excursion_id: str, code: str | None, product: str, batch: str) -> bool:
        row = self.db.conn.execute(
            "SELECT 1 FROM dispositions WHERE excursion_id = ? AND code = ? AND product_id = ?"
            " AND batch_no = ?",
            (excursion_id, code or "", product, batch),
        ).fetchone()
        return row is not None

    def _request_scrap(
        self, exposed: Sequence[Excursion], code: str | None, product_id: str, batch_no: str,
        *, decided_by: str, open_ids: list[str],
    ) -> str | None:  # fmt: skip
        codes = sorted({
            unit.code for x in exposed for unit in x.units
            if unit.product_id == product_id and unit.batch_no == batch_no
            and (code is None or unit.code == code)
        })  # fmt: skip
        now = to_ms(self.stock.clock.now())
        on_hand = [unit.code for unit in self.locations.held_at(codes, now)]
        if not on_hand:
            return None
        approval_id = f"excursion-discard:{open_ids[0]}:{code or f'{product_id}/{batch_no}'}"
        reason = f"temperature excursion {', '.join(open_ids)}: discard decided by {decided_by}"
        return self.stock.request(
            "scrap", list(on_hand), approval_id=approval_id, actor=decided_by, reason=reason,
            reason_code=EXCURSION_SCRAP_REASON,
        )  # fmt: skip


def _local(moment: datetime) -> str:
    return moment.astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M")
