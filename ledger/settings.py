"""The optional ``[ledger]`` configuration: where uploads go, when, and what each scanner does.

Hangs under the gateway's `Settings` as ``ledger: LedgerSettings | None`` (None: no ledgers on
this gateway). Example::

    [ledger]
    platform_url = "https://ims.example.cn/upload"
    upload = "batch"                      # or "realtime" (the default)
    catalogue_files = ["shipments/2026-03.json"]
    units_files = ["units.csv"]           # unit_code,name,level,vaccinating (ledger.units)

    [ledger.stations]
    receive-desk = "receive"
    vaccination-1 = "administer"
    stocktake = "stocktake"
    fridge-2 = "move"

    [ledger.compartments]                 # where a receive or move station puts each package
    receive-desk = "F1/冷藏"
    fridge-2 = "F2/冷藏"
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from gateway.core.ranges import check_ordered
from gateway.core.validation import HTTP_URL


class StationAction(StrEnum):
    """What a committed scan from a scanner at this station does in the stock ledger."""

    RECEIVE = "receive"  # 扫码入库
    ADMINISTER = "administer"  # 扫码接种: one dose from the scanned package
    STOCKTAKE = "stocktake"  # 盘点: book against shelf, changes nothing
    MOVE = "move"  # 移库: the scanned package goes to the station's compartment


PLACING = frozenset({StationAction.RECEIVE, StationAction.MOVE})


class LedgerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    platform_url: Annotated[
        str, Field(pattern=HTTP_URL, description="the provincial platform's upload endpoint")
    ]
    platform_token: Annotated[
        SecretStr | None, Field(description="sent as 'Authorization: Bearer …' when set")
    ] = None
    upload: Annotated[
        Literal["realtime", "batch"],
        Field(description="realtime: after each dose; batch: in the 20:00–05:00 window"),
    ] = "realtime"
    alarm_margin_h: Annotated[
        float,
        Field(gt=0, lt=24, description="alarm the vaccine manager this long before the 24 h"),
    ] = 4.0
    catalogue_files: Annotated[
        list[Path],
        Field(description="shipment data (.csv or .json) imported at start; relative to data_dir"),
    ] = []
    units_files: Annotated[
        list[Path],
        Field(
            description="the catalogue of units (.csv: unit_code,name,level,vaccinating) "
            "imported at start; relative to data_dir"
        ),
    ] = []
    stations: Annotated[
        dict[str, StationAction], Field(description="scanner station -> what a scan there does")
    ] = {}
    compartments: Annotated[
        dict[str, str],
        Field(description="receive or move station -> fridge compartment (FRIDGE/NAME) it fills"),
    ] = {}
    summary_issue_hour: Annotated[
        int,
        Field(
            ge=12,
            le=23,
            description="local hour the vaccination day closes (its 汇总出库 stored) unless a "
            "manager closed it before",
        ),
    ] = 18
    stocktake_idle_min: Annotated[
        float, Field(gt=0, description="a stocktake session ends after this long without scans")
    ] = 30.0
    retry_initial_s: Annotated[float, Field(gt=0)] = 30.0
    retry_max_s: Annotated[float, Field(gt=0)] = 1800.0
    poll_s: Annotated[
        float, Field(gt=0, description="re-check the upload queue at least this often")
    ] = 300.0

    @model_validator(mode="after")
    def _retry_ordered(self) -> LedgerSettings:
        check_ordered(self, "retry_initial_s", "retry_max_s")
        return self

    @model_validator(mode="after")
    def _consistent(self) -> LedgerSettings:
        problems = list(self._problems())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _problems(self) -> Iterator[str]:
        yield from self._compartment_problems()
        for path in self.catalogue_files:
            if path.suffix.lower() not in {".csv", ".json"}:
                yield f"catalogue_files: {path} is neither .csv nor .json (fix: rename it)"
        for path in self.units_files:
            if path.suffix.lower() != ".csv":
                yield f"units_files: {path} is not a .csv file (fix: rename or convert it)"
        if self.retry_max_s < self.retry_initial_s:
            yield "retry_max_s is below retry_initial_s (fix: raise retry_max_s)"

    def _compartment_problems(self) -> Iterator[str]:
        for station in sorted(self.compartments):
            action = self.stations.get(station)
            if action is None:
                yield (
                    f"compartments.{station}: no such station (fix: add it under "
                    "[ledger.stations] or remove it)"
                )
            elif action not in PLACING:
                yield (
                    f"compartments.{station}: a {action} station puts nothing anywhere "
                    "(fix: remove it, or make the station receive or move)"
                )
        for station, action in sorted(self.stations.items()):
            if action is StationAction.MOVE and not self.compartments.get(station, "").strip():
                yield (
                    f"compartments.{station}: a move station moves each package into its "
                    f'compartment (fix: add {station} = "FRIDGE/COMPARTMENT" under '
                    "[ledger.compartments])"
                )

    def unknown_compartments(self, refs: Collection[str]) -> list[tuple[str, str, str]]:
        """(key, message, fix) for each station compartment that is not among `refs`, the
        compartments the gateway's settings declare."""
        known = ", ".join(refs) or "(none: declare [[fridges]] first)"
        return [
            (
                f"ledger.compartments.{station}",
                f"station {station} puts packages into {ref!r}, which is not a compartment",
                f"use one of {known}",
            )
            for station, ref in sorted(self.compartments.items())
            if ref not in refs
        ]

    @property
    def realtime(self) -> bool:
        return self.upload == "realtime"

    @property
    def alarm_margin(self) -> timedelta:
        return timedelta(hours=self.alarm_margin_h)

    def catalogue_paths(self, data_dir: Path) -> list[Path]:
        return [path if path.is_absolute() else data_dir / path for path in self.catalogue_files]

    def units_paths(self, data_dir: Path) -> list[Path]:
        return [path if path.is_absolute() else data_dir / path for path in self.units_files]
