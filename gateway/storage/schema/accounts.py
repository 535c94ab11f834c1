"""The accounts store (`accounts.sqlite3`): accounts, sign-in failures, sessions and API tokens
(with their scope and expiry). Version 1's lockouts table stays, unread.

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
    ],
    [  # 2: growing delays instead of lockouts, counted by name and by client address
        "ALTER TABLE sign_in_failures ADD COLUMN address TEXT",
        "CREATE INDEX sign_in_failures_address ON sign_in_failures (address, at)",
        # tokens get a scope (NULL: every action of the account) and an expiry; the tokens
        # made before expire 90 days after they were made
        "ALTER TABLE api_tokens ADD COLUMN scope TEXT",
        "ALTER TABLE api_tokens ADD COLUMN expires_at REAL",
        "UPDATE api_tokens SET expires_at = created_at + 90 * 86400",
    ],
    [  # 3: every account added or changed, with who did it, before and after (附表5)
        """CREATE TABLE account_changes (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            by_whom TEXT NOT NULL,
            account TEXT NOT NULL,
            kind TEXT NOT NULL,
            before TEXT NOT NULL,
            after TEXT NOT NULL
        )""",
    ],
]
