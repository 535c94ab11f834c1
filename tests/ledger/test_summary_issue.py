"""汇总出库 is the day's truth: stored when the vaccination day is closed, complete, with a
supplementary issue for each dose recorded after the close, and returned as stored.

Seed 002, 二.(三).2: "接种单位在接种日结束后要及时对疫苗进行汇总出库，做到账苗一致。"
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.auth.policy import Role
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import FakeClock
from gateway.storage.ledger.stock import StockLedger
from ledger.stock_errors import StockError
from tests.access_support import as_roles
from tests.ledger.conftest import COVID, COVID_BATCH, HEPB, HEPB_BATCH, code
from tests.ledger.test_ledger_routes_support import MANAGER, ok, refused, served, stock_in

LATER = timedelta(hours=5)  # 09:00 + 5 h = 14:00 local, within the opened vial's 6 h


def administered_today(stock: StockLedger) -> int:
    """Every dose the stock ledger recorded (the tests give them all on one day)."""
    row = stock.db.conn.execute("SELECT COUNT(*) FROM stock_events WHERE kind = 'administer'")
    count: int = row.fetchone()[0]
    return count


def test_doses_after_the_close_are_a_supplementary_issue_of_the_same_day(
    stock: StockLedger, clock: FakeClock
) -> None:
    """Seed 002: "接种日结束后要及时对疫苗进行汇总出库，做到账苗一致": every dose of the day is in
    exactly one stored part; asking again returns what was stored."""
    day = clock.now().astimezone(CLINIC_TZ).date()
    for n in (1, 2, 3):
        stock.receive(code(HEPB, n), event_id=f"r{n}", actor="王芳")
    stock.receive(code(COVID, 1), event_id="rc", actor="王芳")
    stock.administer(code(HEPB, 1), event_id="a1", actor="李医生")
    stock.administer(code(COVID, 1), event_id="a2", actor="李医生")
    closed = stock.close_day(day, actor="王芳")
    assert (closed.duplicate, [p.part for p in closed.parts]) == (False, [1])
    assert closed.lines == {(HEPB, HEPB_BATCH): 1, (COVID, COVID_BATCH): 1}
    clock.jump_wall(LATER)
    stock.administer(code(HEPB, 2), event_id="a3", actor="李医生")
    stock.administer(code(COVID, 1), event_id="a4", actor="李医生")
    stock.administer(code(HEPB, 2), event_id="a3", actor="李医生")  # a replay: no new part
    stored = stock.summary_issue(day)
    assert stored is not None
    assert [(p.part, p.lines) for p in stored.parts] == [
        (1, {(HEPB, HEPB_BATCH): 1, (COVID, COVID_BATCH): 1}),
        (2, {(HEPB, HEPB_BATCH): 1}),
        (3, {(COVID, COVID_BATCH): 1}),
    ]
    assert all(p.at.astimezone(CLINIC_TZ).date() == day for p in stored.parts)
    assert sum(stored.lines.values()) == administered_today(stock) == 4
    again = stock.close_day(day, actor="另一人")
    assert again.duplicate
    assert again.parts == stored.parts
    assert stock.summary_issue(day - timedelta(days=1)) is None


def test_a_day_not_begun_cannot_be_closed(stock: StockLedger, clock: FakeClock) -> None:
    tomorrow = clock.now().astimezone(CLINIC_TZ).date() + timedelta(days=1)
    with pytest.raises(StockError, match="has not begun") as caught:
        stock.close_day(tomorrow, actor="王芳")
    assert caught.value.field == "day"


@pytest.mark.asyncio
async def test_the_manager_closes_the_day_over_http(tmp_path: Path, clock: FakeClock) -> None:
    """Seed 002: the day's 汇总出库 is the manager's action; asking again returns it as stored."""
    async with served(tmp_path, clock) as (_, client):
        await stock_in(client, 1, 2)
        url = "/api/ledger/stock/summary-issue"
        day = clock.now().astimezone(CLINIC_TZ).date().isoformat()
        await refused(await client.get(f"{url}?day={day}", headers=MANAGER), 404, "day")
        administer = "/api/ledger/stock/administer"
        vaccinator = as_roles(Role.VACCINATOR, name="li")
        body = {"scan": code(HEPB, 1), "event_id": "a1"}
        await ok(await client.post(administer, json=body, headers=vaccinator), 201)
        closed = await ok(await client.post(url, json={}, headers=MANAGER), 201)
        line = {"product_id": HEPB, "batch_no": HEPB_BATCH, "doses": 1}
        assert closed["lines"] == [line]
        assert [(p["part"], p["supplementary"], p["actor"]) for p in closed["parts"]] == [
            (1, False, "wang")
        ]
        clock.jump_wall(LATER)
        body = {"scan": code(HEPB, 2), "event_id": "a2"}
        await ok(await client.post(administer, json=body, headers=vaccinator), 201)
        stored = await ok(await client.get(f"{url}?day={day}", headers=MANAGER))
        assert stored["lines"] == [{**line, "doses": 2}]
        assert [(p["part"], p["supplementary"], p["lines"]) for p in stored["parts"]] == [
            (1, False, [line]), (2, True, [line]),
        ]  # fmt: skip
        again = await ok(await client.post(url, json={"day": day}, headers=MANAGER))
        assert again == {**stored, "duplicate": True}
