"""Stations with a compartment (`[ledger.compartments]`): a receive scan puts the package into
the station's fridge compartment, a move scan carries it to another one, once per scan event;
the configuration refuses a move station without a compartment, or with one that is not
declared, naming the key."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.auth.policy import Role
from gateway.core.clock import FakeClock
from gateway.core.errors import ConfigError
from gateway.ledgers.book import LedgerBook, open_ledger_book
from gateway.ledgers.scans import LedgerScans, StationResult
from gateway.ledgers.tasks import LedgerJobs
from gateway.settings import parse_settings
from gateway.storage.ledger.locations import StockLocations
from gateway.storage.scans import StoredScan
from ledger.masking import FULL
from ledger.settings import LedgerSettings, StationAction
from probes.scan import Scan
from tests.access_support import acting_as, user
from tests.ledger.conftest import HEPB, SHIPMENT, code

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "gateway.toml"
KNOWN = ("F1/冷藏", "F1/冷冻", "CR1/冷藏")
LEDGER: dict[str, Any] = {
    "platform_url": "http://127.0.0.1:9/upload",
    "stations": {"receive-desk": "receive", "fridge-2": "move", "plain-desk": "receive"},
    "compartments": {"receive-desk": "F1/冷藏", "fridge-2": "CR1/冷藏"},
}
SETTINGS = LedgerSettings.model_validate(LEDGER)
WANG = user("王芳", Role.MANAGER)
ACTS_FOR = acting_as({"receive-desk": WANG, "fridge-2": WANG, "plain-desk": WANG})


@pytest.fixture
def book(tmp_path: Path, clock: FakeClock) -> Iterator[LedgerBook]:
    opened = open_ledger_book(
        tmp_path, clock, unit_code="6101030203", platform_url=SETTINGS.platform_url
    )
    opened.catalogue.import_json(json.dumps(SHIPMENT))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def locations(book: LedgerBook) -> StockLocations:
    return StockLocations(book.db, book.stock, KNOWN)


@pytest.fixture
def scans(book: LedgerBook, clock: FakeClock, locations: StockLocations) -> LedgerScans:
    return LedgerScans(book, SETTINGS, clock, ACTS_FOR, locations)


def handle(scans: LedgerScans, seq: int, raw: str, station: str) -> StationResult:
    result = scans.handle(StoredScan(seq, Scan(raw.encode(), "desk", station, scans.clock.now())))
    assert result is not None
    return result


def codes_in(locations: StockLocations, compartment: str) -> list[str]:
    return [unit.code for unit in locations.contents(compartment)]


def test_receive_at_a_station_with_a_compartment_places_the_package(
    scans: LedgerScans, locations: StockLocations, book: LedgerBook
) -> None:
    result = handle(scans, 1, code(HEPB, 1), "receive-desk")
    assert (result.ok, result.compartment, result.duplicate) == (True, "F1/冷藏", False)
    assert result.to_json(FULL)["compartment"] == "F1/冷藏"
    assert codes_in(locations, "F1/冷藏") == [code(HEPB, 1)]
    assert book.stock.state(code(HEPB, 1)).state == "in_stock"


def test_receive_without_a_compartment_places_nothing(
    scans: LedgerScans, locations: StockLocations
) -> None:
    result = handle(scans, 1, code(HEPB, 1), "plain-desk")
    assert (result.ok, result.compartment) == (True, None)
    assert locations.where(code(HEPB, 1)) is None


def test_the_same_scan_event_twice_has_one_effect(
    book: LedgerBook, clock: FakeClock, locations: StockLocations
) -> None:
    handle(
        LedgerScans(book, SETTINGS, clock, ACTS_FOR, locations), 1, code(HEPB, 1), "receive-desk"
    )
    restarted = LedgerScans(book, SETTINGS, clock, ACTS_FOR, locations)
    again = handle(restarted, 1, code(HEPB, 1), "receive-desk")
    assert (again.ok, again.duplicate, again.compartment) == (True, True, "F1/冷藏")
    moved = handle(restarted, 2, code(HEPB, 1), "fridge-2")
    moved_again = handle(
        LedgerScans(book, SETTINGS, clock, ACTS_FOR, locations), 2, code(HEPB, 1), "fridge-2"
    )
    assert (moved.duplicate, moved_again.ok, moved_again.duplicate) == (False, True, True)
    assert codes_in(locations, "CR1/冷藏") == [code(HEPB, 1)]
    assert book.stock.state(code(HEPB, 1)).doses_left == 1


@pytest.mark.asyncio
async def test_a_move_station_moves_the_package(
    scans: LedgerScans, locations: StockLocations, clock: FakeClock
) -> None:
    handle(scans, 1, code(HEPB, 1), "receive-desk")
    before = clock.now()
    await clock.advance(60)
    moved = handle(scans, 2, code(HEPB, 1), "fridge-2")
    assert (moved.ok, moved.action, moved.compartment) == (True, StationAction.MOVE, "CR1/冷藏")
    assert codes_in(locations, "F1/冷藏") == []
    assert codes_in(locations, "CR1/冷藏") == [code(HEPB, 1)]
    assert [unit.code for unit in locations.contents("F1/冷藏", before)] == [code(HEPB, 1)]
    assert [result.seq for result in scans.feed("fridge-2")] == [2]


def test_a_move_of_a_package_not_in_stock_is_refused_with_the_reason(
    scans: LedgerScans, locations: StockLocations
) -> None:
    never = handle(scans, 1, code(HEPB, 2), "fridge-2")
    assert (never.ok, never.field) == (False, "trace_code")
    assert never.reason == f"{code(HEPB, 2)} is not in stock (never received): cannot move it"
    unknown = handle(scans, 2, "not-a-trace-code", "fridge-2")
    assert not unknown.ok
    assert unknown.reason
    assert codes_in(locations, "CR1/冷藏") == []
    feed = [result.to_json(FULL) for result in scans.feed("fridge-2")]
    assert [(item["seq"], item["ok"], item["compartment"]) for item in feed] == [
        (2, False, None),
        (1, False, None),
    ]


def test_a_move_into_the_compartment_it_is_in_is_refused(
    scans: LedgerScans, book: LedgerBook, clock: FakeClock, locations: StockLocations
) -> None:
    handle(scans, 1, code(HEPB, 1), "plain-desk")
    locations.place([code(HEPB, 1)], "CR1/冷藏", event_id="shelf:1", actor="王芳")
    result = handle(scans, 2, code(HEPB, 1), "fridge-2")
    assert not result.ok
    assert result.reason == f"{code(HEPB, 1)} is already in CR1/冷藏"


def test_a_move_station_without_a_compartment_is_refused() -> None:
    data = {**LEDGER, "compartments": {"receive-desk": "F1/冷藏"}}
    with pytest.raises(ValidationError) as caught:
        LedgerSettings.model_validate(data)
    text = str(caught.value)
    assert "compartments.fridge-2: a move station moves each package into its compartment" in text
    assert 'fix: add fridge-2 = "FRIDGE/COMPARTMENT" under [ledger.compartments]' in text


def test_a_compartment_for_a_station_that_places_nothing_is_refused() -> None:
    data = {
        **LEDGER,
        "stations": {**LEDGER["stations"], "vaccination-1": "administer"},
        "compartments": {**LEDGER["compartments"], "vaccination-1": "F1/冷藏", "ghost": "F1/冷藏"},
    }
    with pytest.raises(ValidationError) as caught:
        LedgerSettings.model_validate(data)
    text = str(caught.value)
    assert "compartments.vaccination-1: a administer station puts nothing anywhere" in text
    assert "compartments.ghost: no such station" in text


def gateway_config(compartments: dict[str, str]) -> dict[str, Any]:
    data = tomllib.loads(EXAMPLE.read_text("utf-8"))
    data["ledger"] = {**LEDGER, "compartments": compartments}
    return data


def test_the_gateway_accepts_declared_compartments() -> None:
    settings = parse_settings(gateway_config(LEDGER["compartments"]), "clinic.toml")
    assert settings.ledger is not None
    assert settings.ledger.compartments["fridge-2"] == "CR1/冷藏"


def test_an_undeclared_compartment_is_refused_naming_the_key() -> None:
    data = gateway_config({"receive-desk": "F1/冷藏", "fridge-2": "F9/冷藏"})
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, "clinic.toml")
    text = str(caught.value)
    assert "clinic.toml: ledger.compartments.fridge-2: station fridge-2 puts packages" in text
    assert (
        "'F9/冷藏', which is not a compartment (fix: use one of F1/冷藏, F1/冷冻, CR1/冷藏)" in text
    )


def test_a_move_station_without_a_compartment_is_refused_by_the_gateway() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(gateway_config({"receive-desk": "F1/冷藏"}), "clinic.toml")
    assert "compartments.fridge-2: a move station" in str(caught.value)


def test_the_running_gateway_shares_its_stock_locations_with_the_stations(
    book: LedgerBook, clock: FakeClock, locations: StockLocations
) -> None:
    settings = parse_settings(gateway_config(LEDGER["compartments"]), "clinic.toml")
    jobs = LedgerJobs(book, settings, clock, None, ACTS_FOR, locations=locations)
    assert jobs.scans.locations is locations
    handle(jobs.scans, 1, code(HEPB, 3), "receive-desk")
    assert codes_in(locations, "F1/冷藏") == [code(HEPB, 3)]
