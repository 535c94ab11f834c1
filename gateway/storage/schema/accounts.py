"""The accounts store (`accounts.sqlite3`): accounts, sign-in failures, lockouts, sessions and
API tokens.

Forward-only: each entry is one schema version's statements; never edit a released one,
append a new one.
"""

from gateway.storage.sqlite_file import Migrations

MIGRATIONS: Migrations = [
    [
        """CREATE TABLE accounts (
            name TEXT PRIMARY KEY,
            display_name TEXT NOT NULL,
            roles TEXT NOT NULL,
            person TEXT,
            password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        )""",
        "CREATE TABLE sign_in_failures (name TEXT NOT NULL, at REAL NOT NULL)",
        "CREATE INDEX sign_in_failures_name ON sign_in_failures (name, at)",
        "CREATE TABLE lockouts (name TEXT PRIMARY KEY, until REAL NOT NULL)",
        """CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            account TEXT NOT NULL REFERENCES accounts (name),
            csrf TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_seen REAL NOT NULL
        )""",
        """CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            account TEXT NOT NULL REFERENCES accounts (name),
            created_at REAL NOT NULL,
            last_used_at REAL,
            revoked_at REAL
        )""",
    ]
]
