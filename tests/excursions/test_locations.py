"""Where stock is: receiving into a compartment, whole-batch placement, moves, and what was in
a compartment at any past time as packages move and leave stock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.core.clock import FakeClock
from gateway.storage.ledger.locations import StockLocations
from gateway.storage.ledger.stock import StockLedger
from ledger.stock_errors import StockError
from tests.excursions.conftest import COLD, SPARE, covid, hepb, receive
from tests.ledger.conftest import HEPB, HEPB_BATCH


def codes_in(locations: StockLocations, compartment: str, at: object = None) -> list[str]:
    return [unit.code for unit in locations.contents(compartment, at)]  # type: ignore[arg-type]


def test_past_time_queries_follow_moves_and_departures(
    locations: StockLocations, stock: StockLedger, clock: FakeClock
) -> None:
    t0 = clock.now()
    receive(locations, [hepb(1), hepb(2), covid(1)])
    clock.jump_wall(timedelta(hours=1))
    t1 = clock.now()
    locations.move([hepb(2)], SPARE, event_id="move-1", actor="王芳")
    clock.jump_wall(timedelta(hours=1))
    t2 = clock.now()
    stock.administer(hepb(1), event_id="dose-1", actor="李医生")  # its only dose: it leaves
    stock.administer(covid(1), event_id="dose-2", actor="李医生")  # opened, one dose left
    clock.jump_wall(timedelta(hours=1))
    locations.move([hepb(2)], COLD, event_id="move-2", actor="王芳")

    assert codes_in(locations, COLD, t0 - timedelta(seconds=1)) == []
    assert codes_in(locations, COLD, t0) == [hepb(1), hepb(2), covid(1)]
    assert codes_in(locations, COLD, t1) == [hepb(1), covid(1)]
    assert codes_in(locations, SPARE, t1) == [hepb(2)]
    assert codes_in(locations, COLD, t2) == [covid(1)]
    assert [u.doses_left for u in locations.contents(COLD, t2)] == [1]
    assert codes_in(locations, COLD) == [hepb(2), covid(1)]
    assert codes_in(locations, SPARE) == []
    assert locations.where(hepb(2), t1) == SPARE
    assert locations.doses_in(COLD) == 2
    during = locations.present_during(SPARE, t1 - timedelta(minutes=5), t1 + timedelta(minutes=5))
    assert [u.code for u in during] == [hepb(2)]
    leaving = locations.present_during(COLD, t1, t2)
    assert [u.code for u in leaving] == [hepb(1), covid(1)]


def test_whole_batch_placement_checks_the_count(
    locations: StockLocations, stock: StockLedger
) -> None:
    for n in (1, 2, 3):
        stock.receive(hepb(n), event_id=f"r{n}", actor="王芳")
    with pytest.raises(StockError, match="counted 2, but the books hold 3"):
        locations.place_batch(HEPB, HEPB_BATCH, COLD, packages=2, event_id="b", actor="王芳")
    placed = locations.place_batch(HEPB, HEPB_BATCH, COLD, packages=3, event_id="b", actor="王芳")
    assert placed.codes == (hepb(1), hepb(2), hepb(3))
    again = locations.place_batch(HEPB, HEPB_BATCH, COLD, packages=3, event_id="b", actor="王芳")
    assert again.duplicate
    with pytest.raises(StockError, match="no package of it in stock without a place"):
        locations.place_batch(HEPB, HEPB_BATCH, COLD, packages=3, event_id="b2", actor="王芳")


def test_move_scan_for_a_code_not_in_stock_is_refused(
    locations: StockLocations, stock: StockLedger
) -> None:
    with pytest.raises(StockError, match=r"not in stock \(never received\): cannot move it"):
        locations.move([hepb(5)], SPARE, event_id="m", actor="王芳")
    receive(locations, [hepb(6)])
    stock.administer(hepb(6), event_id="d", actor="李医生")
    with pytest.raises(StockError, match=r"not in stock \(used_up\): cannot move it"):
        locations.move([hepb(6)], SPARE, event_id="m", actor="王芳")
    assert locations.where(hepb(6)) == COLD  # nothing changed


def test_bad_placements_are_refused(locations: StockLocations) -> None:
    receive(locations, [hepb(1)])
    with pytest.raises(StockError, match="already in F1/冷藏: scan it as a move"):
        locations.place([hepb(1)], SPARE, event_id="p", actor="王芳")
    with pytest.raises(StockError, match="is already in F1/冷藏"):
        locations.move([hepb(1)], COLD, event_id="m", actor="王芳")
    with pytest.raises(StockError, match="not a configured compartment"):
        locations.move([hepb(1)], "F9/冷藏", event_id="m", actor="王芳")
    with pytest.raises(StockError, match="who moved"):
        locations.move([hepb(1)], SPARE, event_id="m", actor=" ")
    locations.move([hepb(1)], SPARE, event_id="m", actor="王芳")
    with pytest.raises(StockError, match="already used for another scan"):
        locations.move([hepb(1)], COLD, event_id="m", actor="王芳")
    now = locations.stock.clock.now()
    with pytest.raises(StockError, match="before the start"):
        locations.present_during(COLD, now, now - timedelta(seconds=1))


def test_receive_into_is_all_or_nothing(locations: StockLocations, stock: StockLedger) -> None:
    with pytest.raises(StockError, match="not a configured compartment"):
        locations.receive_into(hepb(1), "nowhere", event_id="r", actor="王芳")
    with pytest.raises(StockError):
        stock.state(hepb(1))
