"""The scan store (`scans.sqlite3`): every scan as received, before anything acts on it.

Forward-only: each entry is one schema version's statements; never edit a released one,
append a new one.
"""

from gateway.storage.sqlite_file import Migrations

MIGRATIONS: Migrations = (
    (
        """CREATE TABLE scans (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            raw BLOB NOT NULL CHECK (length(raw) > 0),
            scanner TEXT NOT NULL,
            station TEXT NOT NULL,
            taken_at INTEGER NOT NULL,
            clock_synced INTEGER NOT NULL,
            time_corrected INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX scans_time ON scans (taken_at)",
    ),
    # The account that posted a scan over HTTP, which the scan then acts for; NULL for a
    # scanner wired to the gateway (it acts for its station's account).
    ("ALTER TABLE scans ADD COLUMN account TEXT",),
)
