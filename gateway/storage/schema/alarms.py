"""The alarm store (`alarms.sqlite3`): alarms, transitions, the notification outbox and attempts.

Forward-only: each entry is one schema version's statements; never edit a released one,
append a new one.
"""

from gateway.storage.sqlite_file import Migrations

MIGRATIONS: Migrations = (
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        "CREATE TABLE rule_states (compartment TEXT PRIMARY KEY, state TEXT NOT NULL)"
        " WITHOUT ROWID",
        """CREATE TABLE alarms (
            no INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            probe TEXT,
            opened_at INTEGER NOT NULL,
            closed_at INTEGER,
            closed_by TEXT,
            disposition TEXT,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX alarms_opened ON alarms (opened_at)",
        """CREATE TABLE transitions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            alarm_id TEXT,
            at INTEGER NOT NULL,
            kind TEXT NOT NULL,
            who TEXT,
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX transitions_alarm ON transitions (alarm_id, seq)",
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            alarm_id TEXT NOT NULL,
            person TEXT NOT NULL,
            tier INTEGER NOT NULL,
            channel TEXT NOT NULL,
            reason TEXT NOT NULL,
            message TEXT NOT NULL,
            ack_link TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX outbox_due ON outbox (state, next_attempt_at)",
        "CREATE INDEX outbox_alarm ON outbox (alarm_id)",
        """CREATE TABLE attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            outbox_id INTEGER NOT NULL,
            at INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX attempts_outbox ON attempts (outbox_id)",
        """CREATE TABLE who_excursions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            compartment TEXT NOT NULL,
            probe TEXT,
            since INTEGER NOT NULL,
            raised_at INTEGER NOT NULL,
            value REAL,
            cleared_at INTEGER
        )""",
        "CREATE INDEX who_open ON who_excursions (kind, compartment, probe, cleared_at)",
    ),
)
