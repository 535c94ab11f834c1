"""Who entered each version of a recipient and of a dose record (schema 4), and the upgrade of
a ledger file written before actors were recorded."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import FakeClock
from gateway.storage.ledger.catalogue import Catalogue
from gateway.storage.ledger.db import LedgerDB, to_ms
from gateway.storage.ledger.stock import StockLedger
from gateway.storage.ledger.vaccinations import VaccinationLedger
from gateway.storage.registry import LEDGER
from ledger.errors import RecordError
from ledger.tables import ReferenceTables
from ledger.upload_xml import build
from ledger.vaccination_records import DELETED, NORMAL, DoseRecord, RecipientVersion, record_to_json
from tests.ledger.conftest import HEPB, HEPB_BATCH, START, code
from tests.ledger.test_vaccinations_upload import ADULT, DOSE, UNIT

SCHEMA_BEFORE_ACTORS = 3


@pytest.fixture
def ledger(
    db: LedgerDB, stock: StockLedger, tables: ReferenceTables, clock: FakeClock
) -> VaccinationLedger:
    stock.receive(code(HEPB, 1), event_id="r1", actor="王芳")
    return VaccinationLedger(db, stock, tables, clock, UNIT)


def test_each_version_names_its_actor(
    ledger: VaccinationLedger, db: LedgerDB, clock: FakeClock
) -> None:
    ledger.register(ADULT, actor="li")
    clock.jump_wall(timedelta(minutes=1))
    moved = dataclasses.replace(ADULT, address="西安市碑林区南大街2号")
    ledger.register(moved, actor="wang")
    stamps = {"archive_unit": UNIT, "management_unit": UNIT, "updated_unit": UNIT,
              "management_start": START.astimezone(CLINIC_TZ).date()}  # fmt: skip
    later = START + timedelta(minutes=1)
    assert ledger.recipient_versions(ADULT.archive_no) == [
        RecipientVersion(dataclasses.replace(ADULT, **stamps, updated_at=START), 1, "li", START),
        RecipientVersion(dataclasses.replace(moved, **stamps, updated_at=later), 2, "wang", later),
    ]
    assert ledger.recipient_versions("nobody") == []

    record = ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 1), event_id="d1",
                                dose_no=1, **{**DOSE, "actor": "li.na"})  # fmt: skip
    ledger.correct("d1", reason="部位录错", actor="wang", site_code="2")
    ledger.delete("d1", reason="重复录入", actor="zhao")
    versions = ledger.versions("d1")
    assert [(v.record.version, v.record.status, v.actor, v.reason) for v in versions] == [
        (1, NORMAL, "li.na", "recorded"), (2, NORMAL, "wang", "部位录错"),
        (3, DELETED, "zhao", "重复录入")]  # fmt: skip
    assert ledger.history("d1") == [v.record for v in versions]
    assert versions[0].record.vaccinator == DOSE["vaccinator"]  # the actor is not the vaccinator
    administered = db.conn.execute(
        "SELECT actor FROM stock_events WHERE kind = 'administer' AND event_id = 'd1'"
    ).fetchall()
    assert administered == [("li.na",)]
    document = build([record]).decode()
    assert DOSE["vaccinator"] in document
    assert "li.na" not in document  # the upload body is as before: no actor


def test_a_version_without_an_actor_is_refused(ledger: VaccinationLedger, db: LedgerDB) -> None:
    with pytest.raises(RecordError) as caught:
        ledger.register(ADULT, actor=" ")
    assert caught.value.field == "actor"
    ledger.register(ADULT, actor="li")
    with pytest.raises(RecordError) as caught:
        ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 1), event_id="d1",
                           dose_no=1, **{**DOSE, "actor": ""})  # fmt: skip
    assert caught.value.field == "actor"
    assert ledger.history("d1") == []
    ledger.record_dose(archive_no=ADULT.archive_no, scan=code(HEPB, 1), event_id="d1", dose_no=1,
                       **DOSE)  # fmt: skip
    with pytest.raises(RecordError) as caught:
        ledger.correct("d1", reason="部位录错", actor="", site_code="2")
    assert caught.value.field == "actor"
    with pytest.raises(RecordError) as caught:
        ledger.delete("d1", reason="重复录入", actor="\t")
    assert caught.value.field == "actor"
    assert [r.version for r in ledger.history("d1")] == [1]


def test_a_file_from_before_actors_upgrades_with_unknown_actors(
    tmp_path: Path, tables: ReferenceTables, clock: FakeClock
) -> None:
    path = tmp_path / LEDGER.file
    old = DoseRecord(
        record_id="d1", version=1, status=NORMAL, recipient=ADULT, vaccine_code="0201",
        manufacturer_code="M01", batch_no=HEPB_BATCH, trace_code=code(HEPB, 1), dose_no=1,
        vaccinated_at=START, site_code="1", vaccinator="李医生", vaccination_type="01",
        vaccine_attribute="01", unit_code="6101030203",
    )  # fmt: skip
    person = json.dumps(dataclasses.asdict(ADULT), default=str, ensure_ascii=False)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        for statements in LEDGER.migrations[:SCHEMA_BEFORE_ACTORS]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_BEFORE_ACTORS}")
        conn.execute(
            "INSERT INTO recipients VALUES (?, 1, ?, ?)", (ADULT.archive_no, person, to_ms(START))
        )
        conn.execute(
            "INSERT INTO record_versions VALUES ('d1', 1, '01', ?, '0201', 1, ?, ?, ?, ?)",
            (ADULT.archive_no, to_ms(START), record_to_json(old), "recorded [li]", to_ms(START)),
        )

    with LedgerDB(path) as db:
        assert db.conn.execute("PRAGMA user_version").fetchone() == (LEDGER.schema_version,)
        rows = db.conn.execute("SELECT actor FROM recipients UNION ALL SELECT actor"
                               " FROM record_versions").fetchall()  # fmt: skip
        assert rows == [("",), ("",)]
        ledger = VaccinationLedger(db, StockLedger(db, Catalogue(db), clock), tables, clock, UNIT)
        assert ledger.recipient_versions(ADULT.archive_no) == [
            RecipientVersion(ADULT, 1, None, START)
        ]
        [before] = ledger.versions("d1")
        assert (before.record, before.actor, before.reason) == (old, None, "recorded [li]")

        ledger.delete("d1", reason="重复录入", actor="zhao")
        assert [(v.record.version, v.actor) for v in ledger.versions("d1")] == [
            (1, None), (2, "zhao")]  # fmt: skip
