"""Manufacturers' stability data as configuration, and the disposition it proposes.

A TOML (or JSON) file lists, per product (a 7-digit product identifier, or a vaccine code for
every product of that vaccine), how much heat it tolerates (cumulative hours above
``heat_threshold_c``) and whether any freezing (at or below ``freeze_threshold_c``) destroys it.
From the exposures a package went through, `propose` says usable or discard, with the reasons;
a person decides and is recorded (`gateway.storage.ledger.quarantine`). The data must come from the
manufacturer's package insert or the county CDC: the shipped file holds examples only.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.core.ranges import check_ordered
from ledger.errors import ReferenceDataError
from ledger.exposure import Exposure
from ledger.shipments import Product

USABLE: Literal["usable"] = "usable"
DISCARD: Literal["discard"] = "discard"
UNKNOWN: Literal["unknown"] = "unknown"
#: VVM stages 3 and 4 are past the discard point (WHO VVM reading guide).
VVM_DISCARD_STAGE = 3


class ProductStability(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    product_id: Annotated[str | None, Field(pattern=r"^[0-9]{7}$")] = None
    vaccine_code: Annotated[str | None, Field(min_length=1)] = None
    name: Annotated[str, Field(min_length=1)]
    example: Annotated[
        bool, Field(description="true: illustrative figures, not a manufacturer's data")
    ] = False
    heat_threshold_c: float = 8.0
    allowed_hours_above: Annotated[
        float, Field(ge=0, description="cumulative hours above heat_threshold_c still usable")
    ]
    freeze_sensitive: bool
    freeze_threshold_c: float = 0.0
    source: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> ProductStability:
        if (self.product_id is None) == (self.vaccine_code is None):
            raise ValueError("give exactly one of product_id or vaccine_code")
        check_ordered(self, "freeze_threshold_c", "heat_threshold_c", strict=True)
        return self

    @property
    def thresholds(self) -> tuple[float, float]:
        """(freeze, heat): the window an exposure must be measured against for this product."""
        return self.freeze_threshold_c, self.heat_threshold_c


class StabilityTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    products: list[ProductStability] = []

    @model_validator(mode="after")
    def _unique(self) -> StabilityTable:
        keys = [entry.product_id or f"vaccine {entry.vaccine_code}" for entry in self.products]
        doubled = sorted({key for key in keys if keys.count(key) > 1})
        if doubled:
            raise ValueError(f"listed twice: {', '.join(doubled)}")
        return self

    def for_product(self, product: Product) -> ProductStability | None:
        """The product's own entry, else its vaccine's."""
        by_vaccine = None
        for entry in self.products:
            if entry.product_id == product.product_id:
                return entry
            if entry.vaccine_code == product.vaccine_code:
                by_vaccine = entry
        return by_vaccine

    def thresholds(self) -> set[tuple[float, float]]:
        return {entry.thresholds for entry in self.products}


def load_stability(path: Path) -> StabilityTable:
    """Read and validate a stability file (.toml or .json); every problem is named."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except OSError as error:
        raise ReferenceDataError("stability", f"cannot read {path}: {error.strerror}") from None
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise ReferenceDataError("stability", f"{path} is not valid: {error}") from None
    return parse_stability(data, str(path))


def parse_stability(data: object, where: str = "stability data") -> StabilityTable:
    try:
        return StabilityTable.model_validate(data)
    except ValidationError as error:
        problems = [
            (f"{where}: {'.'.join(str(p) for p in item['loc']) or 'products'}", item["msg"])
            for item in error.errors()
        ]
        raise ReferenceDataError.many(problems) from None


@dataclass(frozen=True, slots=True)
class Proposal:
    decision: Literal["usable", "discard", "unknown"]
    reasons: tuple[str, ...]
    hours_above: float
    froze: bool

    def to_json(self) -> dict[str, object]:
        return {
            "decision": self.decision,
            "reasons": list(self.reasons),
            "hours_above": round(self.hours_above, 2),
            "froze": self.froze,
        }


def propose(
    entry: ProductStability | None, exposures: Sequence[Exposure], vvm_stage: int | None = None
) -> Proposal:
    """Usable or discard from every exposure the package went through (cumulative), each
    measured against the entry's thresholds; unknown without stability data."""
    hours = sum(e.minutes_above for e in exposures) / 60
    reasons: list[str] = []
    if vvm_stage is not None and vvm_stage >= VVM_DISCARD_STAGE:
        reasons.append(f"VVM stage {vvm_stage}: past the discard point")
    if entry is None:
        decision: Literal["discard", "unknown"] = DISCARD if reasons else UNKNOWN
        reasons.append("no stability data for this product: ask the manufacturer or county CDC")
        return Proposal(decision, tuple(reasons), hours, froze=False)
    froze = any(
        e.trough_c is not None and e.trough_c <= entry.freeze_threshold_c for e in exposures
    )
    if entry.freeze_sensitive and froze:
        reasons.append(f"freeze-sensitive, and it was at or below {entry.freeze_threshold_c} °C")
    if hours > entry.allowed_hours_above:
        reasons.append(
            f"{hours:.1f} h above {entry.heat_threshold_c} °C in all, "
            f"more than the {entry.allowed_hours_above:g} h allowed"
        )
    if reasons:
        return Proposal(DISCARD, tuple(reasons), hours, froze)
    note = " (example data)" if entry.example else ""
    reasons.append(
        f"{hours:.1f} h of {entry.allowed_hours_above:g} h allowed above "
        f"{entry.heat_threshold_c} °C{note}; read the VVM before use"
    )
    return Proposal(USABLE, tuple(reasons), hours, froze)
