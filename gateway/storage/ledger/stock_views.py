"""Reads of the stock ledger: a package's events and state, balances per batch, wastage."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from gateway.core.clinic_time import CLINIC_TZ
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB, from_ms, to_ms
from gateway.storage.ledger.stock_values import (
    DISCARDED,
    IN_STOCK,
    ISSUED,
    OPENED,
    RETURNED,
    SCRAPPED,
    USED_UP,
    Balance,
    PackageState,
)  # fmt: skip
from ledger.stock_errors import PackageNotReceivedError


def package_events(db: LedgerDB, code: str) -> list[tuple[str, int, str, str, int]]:
    with db.translated("read events"):
        return [tuple(row) for row in db.conn.execute(
            "SELECT kind, doses, product_id, batch_no, at_ms FROM stock_events"
            " WHERE code = ? ORDER BY seq", (code,),
        )]  # fmt: skip


def package_state(db: LedgerDB, catalogue: Catalogue, code: str) -> PackageState:
    """A package's lifecycle state, derived from its events, and the approval holding it."""
    events = package_events(db, code)
    if not events:
        raise PackageNotReceivedError(
            "trace_code", f"{code} was never received", params={"code": code}
        )
    product_id, batch_no = events[0][2], events[0][3]
    product = catalogue.product(product_id)
    open_life = timedelta(hours=product.open_life_hours if product else 0)
    state, doses, opened = IN_STOCK, 0, None
    for kind, delta, _, _, at_ms in ((e[0], e[1], e[2], e[3], e[4]) for e in events):
        doses += delta
        if kind == "administer":
            opened = opened or from_ms(at_ms)
            state = USED_UP if doses <= 0 else OPENED
        elif kind == "issue":
            state = ISSUED
        elif kind == "return":
            state = RETURNED
        elif kind == "scrap":
            state = SCRAPPED
        elif kind == "discard":
            state = DISCARDED
    with db.translated("read approvals"):
        held = db.conn.execute(
            "SELECT a.approval_id FROM approvals a LEFT JOIN approval_decisions d"
            " USING (approval_id) WHERE d.approval_id IS NULL AND a.codes LIKE ?",
            (f'%"{code}"%',),
        ).fetchone()
    return PackageState(
        code, product_id, batch_no, state, doses, opened,
        opened + open_life if opened and state == OPENED else None,
        held[0] if held else None,
    )  # fmt: skip


def balances(db: LedgerDB) -> list[Balance]:
    with db.translated("read balances"):
        rows = db.conn.execute(
            "SELECT product_id, batch_no, SUM(packages), SUM(doses) FROM stock_events"
            " WHERE kind != 'summary_issue' GROUP BY product_id, batch_no"
            " ORDER BY product_id, batch_no"
        ).fetchall()
    return [Balance(*row) for row in rows]


def wastage_coefficients(db: LedgerDB, year: int, month: int) -> dict[str, float]:
    """疫苗损耗系数 per vaccine: doses consumed (administered, discarded, scrapped) per dose
    administered, over one calendar month (local time)."""
    start = datetime(year, month, 1, tzinfo=CLINIC_TZ)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=CLINIC_TZ)
    with db.translated("read wastage"):
        rows = db.conn.execute(
            "SELECT p.vaccine_code, e.kind, -SUM(e.doses) FROM stock_events e JOIN products p"
            " USING (product_id) WHERE e.kind IN ('administer', 'discard', 'scrap')"
            " AND e.at_ms >= ? AND e.at_ms < ? GROUP BY p.vaccine_code, e.kind",
            (to_ms(start), to_ms(end)),
        ).fetchall()
    used: dict[str, int] = defaultdict(int)
    given: dict[str, int] = defaultdict(int)
    for vaccine, kind, doses in rows:
        used[vaccine] += doses
        if kind == "administer":
            given[vaccine] += doses
    return {v: used[v] / given[v] for v in sorted(used) if given[v]}
