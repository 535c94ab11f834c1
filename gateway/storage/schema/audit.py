"""The audit log (`audit.sqlite3`): who changed what through the API.

Forward-only: each entry is one schema version's statements; never edit a released one,
append a new one.
"""

from gateway.storage.sqlite_file import Migrations

MIGRATIONS: Migrations = [
    [
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            method TEXT NOT NULL,
            path TEXT NOT NULL,
            user TEXT,
            status INTEGER NOT NULL,
            summary TEXT NOT NULL
        )""",
    ]
]
