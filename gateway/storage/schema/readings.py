"""The readings store (`readings.sqlite3`): probes and their readings, the forwarders' cursors.

Forward-only: each entry is one schema version's statements; never edit a released one,
append a new one.
"""

from gateway.storage.sqlite_file import Migrations
from probes.reading import STATUS_CODES, ProbeStatus

_OK = STATUS_CODES[ProbeStatus.OK]

MIGRATIONS: Migrations = (
    (
        "CREATE TABLE probes (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE)",
        f"""CREATE TABLE readings (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            probe_id INTEGER NOT NULL REFERENCES probes (id),
            taken_at INTEGER NOT NULL,
            status INTEGER NOT NULL,
            temperature REAL,
            humidity REAL,
            battery REAL,
            clock_synced INTEGER NOT NULL,
            CHECK ((status = {_OK}) = (temperature IS NOT NULL))
        )""",
        "CREATE INDEX readings_probe_time ON readings (probe_id, taken_at)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    ),
    # Times of unsynchronised readings corrected once the clock synchronised (time_correction).
    ("ALTER TABLE readings ADD COLUMN time_corrected INTEGER NOT NULL DEFAULT 0",),
)
