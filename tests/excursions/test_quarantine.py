"""Quarantine and dispositions on a real ledger file: what an excursion exposed may not be
given until someone decides; a discard goes through the scrap approval; bad input refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.core.clock import FakeClock
from gateway.storage.ledger.locations import StockLocations
from gateway.storage.ledger.quarantine import Quarantine
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.ledger.stock_values import SCRAPPED
from ledger.errors import ReferenceDataError
from ledger.stability import StabilityTable, parse_stability, propose
from ledger.stock_errors import StockError
from tests.excursions.conftest import SPARE, covid, hepb, receive, record_warm
from tests.ledger.conftest import COVID, COVID_BATCH, HEPB, HEPB_BATCH


@pytest.fixture
def exposed(locations: StockLocations, clock: FakeClock, quarantine: Quarantine) -> str:
    """Two batches in the cold compartment, one package moved out before a 2-hour excursion."""
    receive(locations, [hepb(1), hepb(2), hepb(3), covid(1), covid(2)])
    locations.move([hepb(3)], SPARE, event_id="away", actor="王芳")
    clock.jump_wall(timedelta(hours=3))
    excursion = record_warm(quarantine, "x1", clock.now() - timedelta(minutes=150), 120)
    return excursion.excursion_id


def test_excursion_lists_exactly_what_was_in_the_compartment(
    quarantine: Quarantine, exposed: str
) -> None:
    excursion = quarantine.excursion(exposed)
    assert excursion is not None
    assert {key: [u.code for u in units] for key, units in excursion.batches.items()} == {
        (HEPB, HEPB_BATCH): [hepb(1), hepb(2)],
        (COVID, COVID_BATCH): [covid(1), covid(2)],
    }
    assert excursion.doses == 2 * 1 + 2 * 2
    assert excursion.exposure.minutes_above == pytest.approx(120)
    assert excursion.exposure.peak_c == 12.0
    assert {item["code"] for item in quarantine.quarantined()} == {
        hepb(1), hepb(2), covid(1), covid(2)
    }  # fmt: skip


def test_quarantined_code_is_refused_until_released(
    quarantine: Quarantine, stock: StockLedger, exposed: str
) -> None:
    with pytest.raises(StockError, match=r"quarantined: it was in F1/冷藏 during the excursion"):
        stock.administer(hepb(1), event_id="d1", actor="李医生")
    stock.administer(hepb(3), event_id="d3", actor="李医生")  # it was in the other fridge
    proposal = quarantine.proposal(HEPB, HEPB_BATCH)
    assert proposal.decision == "usable"
    done = quarantine.dispose(
        HEPB, HEPB_BATCH, decision="usable", vvm_stage=1, decided_by="王芳", recorded_by="wang"
    )
    assert done.excursions == (exposed,)
    assert done.approval_id is None
    stock.administer(hepb(1), event_id="d1", actor="李医生")
    with pytest.raises(StockError, match="quarantined"):
        stock.administer(covid(1), event_id="d2", actor="李医生")
    (row,) = quarantine.dispositions(exposed)
    assert (row["decided_by"], row["recorded_by"], row["vvm_stage"]) == ("王芳", "wang", 1)
    assert row["proposal"]["decision"] == "usable"


def test_discard_goes_through_the_scrap_approval(
    quarantine: Quarantine, stock: StockLedger, exposed: str
) -> None:
    done = quarantine.dispose(
        COVID, COVID_BATCH, code=covid(1), decision="discard", vvm_stage=3,
        decided_by="王芳", recorded_by="wang", note="VVM 已到弃用点",
    )  # fmt: skip
    assert done.approval_id is not None
    with pytest.raises(StockError, match="held for approval"):
        stock.administer(covid(1), event_id="d", actor="李医生")
    stock.decide(done.approval_id, approve=True, approver="县疾控")
    assert stock.state(covid(1)).state == SCRAPPED
    assert covid(1) not in {item["code"] for item in quarantine.quarantined()}
    with pytest.raises(StockError, match="quarantined"):  # the other package still waits
        stock.administer(covid(2), event_id="d", actor="李医生")


def test_rejected_scrap_still_refuses_the_dose(
    quarantine: Quarantine, stock: StockLedger, exposed: str
) -> None:
    done = quarantine.dispose(
        HEPB, HEPB_BATCH, decision="discard", decided_by="王芳", recorded_by="wang"
    )
    assert done.approval_id is not None
    stock.decide(done.approval_id, approve=False, approver="县疾控")
    with pytest.raises(StockError, match="to be discarded after the excursion"):
        stock.administer(hepb(2), event_id="d", actor="李医生")


def test_bad_dispositions_are_refused(quarantine: Quarantine, exposed: str) -> None:
    with pytest.raises(StockError, match="decided_by: empty: a disposition records who"):
        quarantine.dispose(HEPB, HEPB_BATCH, decision="usable", decided_by=" ", recorded_by="w")
    with pytest.raises(StockError, match="batch 8190067/202401B07 was never exposed"):
        quarantine.dispose(HEPB, "202401B07", decision="usable", decided_by="王芳", recorded_by="w")
    with pytest.raises(StockError, match="was never exposed"):
        quarantine.dispose(HEPB, HEPB_BATCH, code=hepb(3), decision="usable", decided_by="王芳",
                           recorded_by="w")  # fmt: skip
    with pytest.raises(StockError, match="past the discard point"):
        quarantine.dispose(HEPB, HEPB_BATCH, decision="usable", vvm_stage=4, decided_by="王芳",
                           recorded_by="w")  # fmt: skip
    with pytest.raises(StockError, match="stage 1, 2, 3 or 4"):
        quarantine.dispose(HEPB, HEPB_BATCH, decision="usable", vvm_stage=7, decided_by="王芳",
                           recorded_by="w")  # fmt: skip
    with pytest.raises(StockError, match="say usable or discard"):
        quarantine.dispose(HEPB, HEPB_BATCH, decision="maybe", decided_by="王芳", recorded_by="w")
    quarantine.dispose(HEPB, HEPB_BATCH, decision="usable", decided_by="王芳", recorded_by="w")
    with pytest.raises(StockError, match="decided already"):
        quarantine.dispose(HEPB, HEPB_BATCH, decision="usable", decided_by="王芳", recorded_by="w")
    assert quarantine.dispositions(exposed)[0]["decision"] == "usable"


def test_cumulative_heat_turns_the_proposal_to_discard(
    quarantine: Quarantine, exposed: str, clock: FakeClock
) -> None:
    # The COVID example allows 24 h above 8 °C in all: 2 h, then 23 h more.
    assert quarantine.proposal(COVID, COVID_BATCH).decision == "usable"
    clock.jump_wall(timedelta(days=2))
    record_warm(quarantine, "x2", clock.now() - timedelta(hours=24), 23 * 60)
    later = quarantine.proposal(COVID, COVID_BATCH)
    assert later.decision == "discard"
    assert later.hours_above == pytest.approx(25)
    assert "more than the 24 h allowed" in later.reasons[0]


def test_freezing_discards_a_freeze_sensitive_product(
    quarantine: Quarantine, exposed: str, clock: FakeClock
) -> None:
    record_warm(quarantine, "cold", clock.now(), 30, celsius=-1.0)
    made = quarantine.proposal(HEPB, HEPB_BATCH)
    assert made.decision == "discard"
    assert made.froze
    assert "freeze-sensitive" in made.reasons[0]


def test_no_stability_data_proposes_nothing(stability: StabilityTable) -> None:
    made = propose(None, [])
    assert made.decision == "unknown"
    assert propose(None, [], vvm_stage=4).decision == "discard"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"allowed_hours_above": -1.0}, "greater than or equal to 0"),
        ({"freeze_threshold_c": 9.0}, "must be below heat_threshold_c"),
        ({"product_id": "8190067"}, "exactly one of product_id or vaccine_code"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_impossible_stability_values_are_refused(entry: dict[str, object], message: str) -> None:
    base = {"vaccine_code": "0201", "name": "x", "allowed_hours_above": 1.0,
            "freeze_sensitive": True}  # fmt: skip
    with pytest.raises(ReferenceDataError, match=message):
        parse_stability({"products": [base | entry]})


def test_a_product_listed_twice_is_refused() -> None:
    entry = {"vaccine_code": "0201", "name": "x", "allowed_hours_above": 1.0,
             "freeze_sensitive": True}  # fmt: skip
    with pytest.raises(ReferenceDataError, match="listed twice: vaccine 0201"):
        parse_stability({"products": [entry, entry]})


def test_shipped_stability_file_is_marked_as_examples(stability: StabilityTable) -> None:
    assert stability.products
    assert all(entry.example for entry in stability.products)
