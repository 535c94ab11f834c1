"""The ledger (`ledger.sqlite3`): stock, locations, vaccinations, excursions, uploads.

Forward-only: each entry is one schema version's statements; never edit a released one,
append a new one.
"""

from gateway.storage.sqlite_file import Migrations

MIGRATIONS: Migrations = (
    (
        """CREATE TABLE products (
            product_id TEXT PRIMARY KEY, vaccine_code TEXT NOT NULL, name TEXT NOT NULL,
            manufacturer_code TEXT NOT NULL, form TEXT NOT NULL,
            doses_per_vial INTEGER NOT NULL CHECK (doses_per_vial > 0),
            open_life_hours INTEGER NOT NULL, gtin TEXT UNIQUE)""",
        """CREATE TABLE batches (
            product_id TEXT NOT NULL REFERENCES products (product_id), batch_no TEXT NOT NULL,
            production_date TEXT NOT NULL, expiry_date TEXT NOT NULL, lot_release_no TEXT NOT NULL,
            PRIMARY KEY (product_id, batch_no))""",
        """CREATE TABLE trace_codes (
            code TEXT PRIMARY KEY, product_id TEXT NOT NULL, batch_no TEXT NOT NULL)""",
        """CREATE TABLE stock_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL, code TEXT, product_id TEXT NOT NULL, batch_no TEXT NOT NULL,
            doses INTEGER NOT NULL, packages INTEGER NOT NULL, at_ms INTEGER NOT NULL,
            actor TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', ref TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX stock_events_code ON stock_events (code, seq)",
        "CREATE INDEX stock_events_time ON stock_events (at_ms)",
        """CREATE TABLE approvals (
            approval_id TEXT PRIMARY KEY, kind TEXT NOT NULL, codes TEXT NOT NULL,
            requested_by TEXT NOT NULL, requested_ms INTEGER NOT NULL, reason TEXT NOT NULL)""",
        """CREATE TABLE approval_decisions (
            approval_id TEXT PRIMARY KEY REFERENCES approvals (approval_id),
            decision TEXT NOT NULL, decided_by TEXT NOT NULL, decided_ms INTEGER NOT NULL)""",
        """CREATE TABLE recipients (
            archive_no TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
            at_ms INTEGER NOT NULL, PRIMARY KEY (archive_no, version))""",
        """CREATE TABLE record_versions (
            record_id TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL,
            archive_no TEXT NOT NULL, vaccine_code TEXT NOT NULL, dose_no INTEGER NOT NULL,
            vaccinated_ms INTEGER NOT NULL, body TEXT NOT NULL, reason TEXT NOT NULL,
            at_ms INTEGER NOT NULL, PRIMARY KEY (record_id, version))""",
        "CREATE INDEX record_versions_person ON record_versions (archive_no, vaccine_code)",
        """CREATE TABLE upload_queue (
            record_id TEXT NOT NULL, version INTEGER NOT NULL, vaccinated_ms INTEGER NOT NULL,
            enqueued_ms INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
            error TEXT NOT NULL DEFAULT '', error_kind TEXT NOT NULL DEFAULT '',
            accepted_ms INTEGER, PRIMARY KEY (record_id, version))""",
        "CREATE INDEX upload_queue_state ON upload_queue (state, vaccinated_ms)",
        """CREATE TABLE upload_attempts (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, records INTEGER NOT NULL,
            outcome TEXT NOT NULL)""",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    ),
    (
        # Who looked at which person's records, when and why (personal data: audited reads).
        """CREATE TABLE record_reads (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, reader TEXT NOT NULL,
            what TEXT NOT NULL, archive_no TEXT NOT NULL DEFAULT '',
            record_id TEXT NOT NULL DEFAULT '', purpose TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX record_reads_person ON record_reads (archive_no, at_ms)",
    ),
    (
        # Where stock is (ledger.locations): placements and moves, one row per scan flow, and
        # the packages each moved; excursions, the packages exposed, and the dispositions
        # (ledger.quarantine); reviewed requisition plans (ledger.requisition).
        """CREATE TABLE location_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL, compartment TEXT NOT NULL, packages INTEGER NOT NULL,
            at_ms INTEGER NOT NULL, actor TEXT NOT NULL, batch TEXT NOT NULL DEFAULT '')""",
        """CREATE TABLE location_units (
            event_seq INTEGER NOT NULL REFERENCES location_events (seq), code TEXT NOT NULL,
            PRIMARY KEY (code, event_seq))""",
        "CREATE INDEX location_units_event ON location_units (event_seq)",
        """CREATE TABLE excursions (
            excursion_id TEXT PRIMARY KEY, compartment TEXT NOT NULL,
            start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, source TEXT NOT NULL,
            computed_ms INTEGER NOT NULL, exposure TEXT NOT NULL, by_thresholds TEXT NOT NULL)""",
        """CREATE TABLE excursion_units (
            excursion_id TEXT NOT NULL REFERENCES excursions (excursion_id), code TEXT NOT NULL,
            product_id TEXT NOT NULL, batch_no TEXT NOT NULL, PRIMARY KEY (code, excursion_id))""",
        "CREATE INDEX excursion_units_batch ON excursion_units (product_id, batch_no)",
        """CREATE TABLE dispositions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, excursion_id TEXT NOT NULL,
            product_id TEXT NOT NULL, batch_no TEXT NOT NULL, code TEXT NOT NULL DEFAULT '',
            decision TEXT NOT NULL, vvm_stage INTEGER, decided_by TEXT NOT NULL,
            recorded_by TEXT NOT NULL, at_ms INTEGER NOT NULL, proposal TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '', approval_id TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX dispositions_scope ON dispositions (excursion_id, product_id, batch_no)",
        """CREATE TABLE requisition_reviews (
            month TEXT PRIMARY KEY, plan TEXT NOT NULL, reviewed_by TEXT NOT NULL,
            at_ms INTEGER NOT NULL, note TEXT NOT NULL DEFAULT '')""",
    ),
    (
        # Who entered each version of a recipient and of a dose record ('' in rows from
        # before: not known).
        "ALTER TABLE record_versions ADD COLUMN actor TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE recipients ADD COLUMN actor TEXT NOT NULL DEFAULT ''",
    ),
    (
        # The catalogue of units with their level (ledger.units: who may be issued to); where a
        # return goes and the scrap reason code (疫苗报废原因代码) of an approval request; the
        # batch index of the never-negative balance check; the day's 汇总出库 as stored when
        # the day was closed, and each supplementary issue after it (part 2, 3...).
        """CREATE TABLE units (
            code TEXT PRIMARY KEY, name TEXT NOT NULL, level INTEGER NOT NULL,
            vaccinating INTEGER NOT NULL)""",
        "ALTER TABLE approvals ADD COLUMN to_unit TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE approvals ADD COLUMN reason_code TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX stock_events_batch ON stock_events (product_id, batch_no)",
        """CREATE TABLE summary_issues (
            day TEXT NOT NULL, part INTEGER NOT NULL, through_seq INTEGER NOT NULL,
            at_ms INTEGER NOT NULL, actor TEXT NOT NULL, lines TEXT NOT NULL,
            PRIMARY KEY (day, part))""",
    ),
    (
        # A manager's override of a compartment's hold (ledger.holds): the movement it let
        # through, the alarm that held the compartment, who and why.
        """CREATE TABLE hold_overrides (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,
            compartment TEXT NOT NULL, alarm TEXT NOT NULL, action TEXT NOT NULL,
            event_id TEXT NOT NULL, codes TEXT NOT NULL, who TEXT NOT NULL,
            reason TEXT NOT NULL)""",
    ),
    (
        # The 汇总出库 recorded before summary_issues existed (a 'summary_issue' row of
        # stock_events, lines in its ref) become part 1 of their day; no more such rows are made.
        """INSERT OR IGNORE INTO summary_issues (day, part, through_seq, at_ms, actor, lines)
            SELECT substr(event_id, 9), 1, seq, at_ms, actor, ref FROM stock_events
            WHERE kind = 'summary_issue'""",
    ),
    (
        # The identity that finds a person's archive before a new one is made (重卡 check,
        # ledger.vaccination_records.Recipient.identity), filled for the rows before it.
        "ALTER TABLE recipients ADD COLUMN identity TEXT NOT NULL DEFAULT ''",
        """UPDATE recipients SET identity = CASE
            WHEN NOT json_valid(body) THEN ''
            WHEN json_extract(body, '$.id_number') != '888888888888888888'
            THEN 'id:' || upper(json_extract(body, '$.id_number'))
            ELSE 'person:' || trim(json_extract(body, '$.name')) || '|'
                || json_extract(body, '$.birth_date') || '|' || trim(coalesce(
                    nullif(json_extract(body, '$.mother_name'), ''),
                    nullif(json_extract(body, '$.father_name'), ''),
                    json_extract(body, '$.guardian_name'), '')) END""",
        "CREATE INDEX recipients_identity ON recipients (identity, archive_no)",
    ),
    (
        # The circulation upload (ledger.circulation_xml): one row per version of the message
        # of a receipt, issue, return or scrap, written with the movement.
        """CREATE TABLE circulation_queue (
            event_id TEXT NOT NULL, version INTEGER NOT NULL, kind TEXT NOT NULL,
            at_ms INTEGER NOT NULL, body TEXT NOT NULL, enqueued_ms INTEGER NOT NULL,
            state TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT NOT NULL DEFAULT '',
            error_kind TEXT NOT NULL DEFAULT '', accepted_ms INTEGER,
            PRIMARY KEY (event_id, version))""",
        "CREATE INDEX circulation_queue_state ON circulation_queue (state, at_ms)",
    ),
)
