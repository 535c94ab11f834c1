"""The checks store (`checks.sqlite3`): calibration checks and the manual temperature record.

Forward-only: each entry is one schema version's statements; never edit a released one,
append a new one.
"""

from gateway.storage.sqlite_file import Migrations

MIGRATIONS: Migrations = (
    (
        """CREATE TABLE calibrations (
            id INTEGER PRIMARY KEY,
            probe TEXT NOT NULL,
            compartment TEXT NOT NULL,
            checked_at INTEGER NOT NULL,
            reference_c REAL NOT NULL,
            probe_c REAL NOT NULL,
            probe_taken_at INTEGER NOT NULL,
            probe_seq INTEGER NOT NULL,
            difference_c REAL NOT NULL,
            tolerance_c REAL NOT NULL,
            passed INTEGER NOT NULL,
            thermometer TEXT NOT NULL,
            note TEXT NOT NULL,
            who TEXT NOT NULL,
            recorded_at INTEGER NOT NULL
        )""",
        "CREATE INDEX calibrations_probe ON calibrations (probe, id)",
        """CREATE TABLE manual_readings (
            id INTEGER PRIMARY KEY,
            compartment TEXT NOT NULL,
            day TEXT NOT NULL,
            half TEXT NOT NULL CHECK (half IN ('am', 'pm')),
            taken_at INTEGER NOT NULL,
            temperature REAL NOT NULL,
            excursion INTEGER NOT NULL,
            recorder TEXT NOT NULL,
            recorder_name TEXT NOT NULL,
            recorded_at INTEGER NOT NULL,
            note TEXT NOT NULL,
            UNIQUE (compartment, day, half)
        )""",
        "CREATE INDEX manual_readings_time ON manual_readings (taken_at)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    ),
    (
        # The twice-daily system check (gateway.checks.system_checks): when a responsible
        # account looked at the fridges, at most one row per account per 10 minutes.
        """CREATE TABLE system_looks (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            who TEXT NOT NULL
        )""",
        "CREATE INDEX system_looks_time ON system_looks (at)",
        "CREATE INDEX system_looks_who ON system_looks (who, at)",
    ),
)
