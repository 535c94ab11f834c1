"""A GS1 package is received only if its serial is in the shipment data of its batch; where the
upstream data lists no serials it is received as unverified and said so (issue 16 item 4)."""

from __future__ import annotations

import json

import pytest

from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.ledger.stock_values import UNVERIFIED
from ledger.errors import CatalogueError, UnknownSerialError
from tests.ledger.conftest import COVID, COVID_BATCH

GTIN = "06901234567892"


def gs1(serial: str) -> str:
    return f"]d201{GTIN}17270103" + "10" + COVID_BATCH + f"\x1d21{serial}"


def events(db: LedgerDB) -> list[tuple[str, str]]:
    return [(code, reason) for code, reason in db.conn.execute(
        "SELECT code, reason FROM stock_events WHERE kind = 'receive' ORDER BY seq")]  # fmt: skip


def listing(*serials: str, gtin: str = GTIN) -> str:
    rows = [{"gs1_key": f"01{gtin}21{s}", "product_id": COVID, "batch_no": COVID_BATCH}
            for s in serials]  # fmt: skip
    return json.dumps({"trace_codes": rows})


def test_without_listed_serials_the_package_is_received_unverified(
    stock: StockLedger, db: LedgerDB
) -> None:
    result = stock.receive(gs1("V1"), event_id="g1", actor="王芳")
    assert result.unverified
    assert events(db) == [(f"01{GTIN}21V1", UNVERIFIED)]
    assert stock.resolve_scan(gs1("V1")).verified is False


def test_listed_serials_admit_only_themselves(
    stock: StockLedger, catalogue: Catalogue, db: LedgerDB
) -> None:
    catalogue.import_json(listing("SN0001", "SN0002"))
    assert not stock.receive(gs1("SN0001"), event_id="g1", actor="王芳").unverified
    with pytest.raises(UnknownSerialError) as caught:
        stock.receive(gs1("SN9999"), event_id="g2", actor="王芳")
    assert (caught.value.field, caught.value.code) == ("serial", "serial_unknown")
    assert "SN9999" in caught.value.reason
    assert events(db) == [(f"01{GTIN}21SN0001", "")]


def test_a_listed_serial_must_carry_the_products_gtin(catalogue: Catalogue) -> None:
    with pytest.raises(CatalogueError) as caught:
        catalogue.import_json(listing("SN0001", gtin="06901234567885"))
    assert caught.value.field == "gs1_key"
    with pytest.raises(CatalogueError, match="01<14-digit GTIN>21<serial>"):
        catalogue.import_json(json.dumps({"trace_codes": [
            {"gs1_key": "0112345", "product_id": COVID, "batch_no": COVID_BATCH}]}))  # fmt: skip
