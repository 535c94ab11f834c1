"""Fridges, their compartments and the reference that names one: `FRIDGE_CODE/COMPARTMENT`.

Every domain speaks of compartments (probes are bound to one, alarms and stock sit in one), so
the models and the reference live in the leaf, where every package may import them without
importing the gateway's wiring.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.core.ranges import check_ordered


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@dataclass(frozen=True, slots=True)
class CompartmentRef:
    """`F1/冷藏`: a fridge code and a compartment name, as configurations and alarms write it."""

    fridge: str
    compartment: str

    @classmethod
    def parse(cls, text: str) -> CompartmentRef | None:
        """The reference written in `text`, or None when it is not `FRIDGE/COMPARTMENT` (an
        alarm's subject may be a gateway number or a bus name)."""
        fridge, slash, compartment = text.partition("/")
        return cls(fridge, compartment) if slash else None

    def __str__(self) -> str:
        return f"{self.fridge}/{self.compartment}"


class FridgeKind(StrEnum):
    REFRIGERATOR = "refrigerator"
    FREEZER = "freezer"
    COLD_ROOM = "cold_room"
    VEHICLE = "vehicle"


class CompartmentKind(StrEnum):
    REFRIGERATED = "refrigerated"
    FROZEN = "frozen"


DEFAULT_RANGES: dict[CompartmentKind, tuple[float | None, float | None]] = {
    CompartmentKind.REFRIGERATED: (2.0, 8.0),
    CompartmentKind.FROZEN: (None, -15.0),
}


class CompartmentSettings(_Model):
    name: Annotated[str, Field(min_length=1, pattern=r"^[^/]+$")]
    kind: CompartmentKind
    min_c: float | None = None
    max_c: float | None = None
    probes: Annotated[int, Field(ge=1, le=16, description="number of probes expected")] = 1

    @model_validator(mode="before")
    @classmethod
    def _default_range(cls, data: Any) -> Any:
        if isinstance(data, dict) and "kind" in data:
            try:
                low, high = DEFAULT_RANGES[CompartmentKind(data["kind"])]
            except ValueError:
                return data
            data = {"min_c": low, "max_c": high} | data
        return data

    @model_validator(mode="after")
    def _range_is_ordered(self) -> CompartmentSettings:
        if self.min_c is None and self.max_c is None:
            raise ValueError("set min_c, max_c or both: a compartment needs a range")
        check_ordered(self, "min_c", "max_c", strict=True)
        return self


class FridgeSettings(_Model):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]
    name: Annotated[str, Field(min_length=1)]
    kind: FridgeKind
    compartments: Annotated[list[CompartmentSettings], Field(min_length=1)]

    def ref(self, compartment: CompartmentSettings) -> str:
        """The reference of one of this fridge's compartments."""
        return str(CompartmentRef(self.code, compartment.name))


def compartment_refs(fridges: Iterable[FridgeSettings]) -> list[str]:
    """Every compartment's reference, fridge by fridge in configuration order."""
    return [fridge.ref(compartment) for fridge in fridges for compartment in fridge.compartments]


def find_compartment(
    fridges: Iterable[FridgeSettings], ref: str
) -> tuple[FridgeSettings, CompartmentSettings]:
    """The fridge and compartment `ref` names; KeyError when no compartment has that name."""
    parsed = CompartmentRef.parse(ref)
    if parsed is not None:
        for fridge in fridges:
            if fridge.code == parsed.fridge:
                for compartment in fridge.compartments:
                    if compartment.name == parsed.compartment:
                        return fridge, compartment
    raise KeyError(ref)
