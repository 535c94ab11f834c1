"""The commissioning log (`commissioning.sqlite3`): the technician's binding forms.

Forward-only: each entry is one schema version's statements; never edit a released one,
append a new one.
"""

from gateway.storage.sqlite_file import Migrations

MIGRATIONS: Migrations = [
    [
        """CREATE TABLE changes (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            who TEXT NOT NULL,
            form TEXT NOT NULL,
            unit_code TEXT NOT NULL,
            unit_name TEXT NOT NULL,
            gateway TEXT NOT NULL,
            old_fridge TEXT,
            new_fridge TEXT,
            old_probe TEXT,
            new_probe TEXT,
            config_version TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX changes_by_form ON changes (form, id)",
    ]
]
