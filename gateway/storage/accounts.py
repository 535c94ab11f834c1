"""The accounts of the people who use the gateway's web pages and API, in accounts.sqlite3.

An account has a name, a display name, roles (see `gateway.auth.policy`), optionally the alarm
person id it answers as, and an argon2 password hash. Wrong passwords slow the guesser down and
never lock anyone out: each failure is kept with the name and the client address it came from;
after `free_failures` of them within `failure_window`, by the name or from the address, the
next attempt waits `first_delay`, doubling with every further failure up to `max_delay`
(`LoginPolicy.delay`). Unknown names count like known ones (the answer does not reveal which
names exist). On the gateway's own console `coldchain accounts unthrottle` forgets every
failure (and `passwd` a name's), so an admin can always sign in at once. Sessions and
API tokens are random strings; only their SHA-256 is stored, so a copy of the file does not
sign anybody in. Sessions end after `session_idle` without use or `session_max` after signing
in, whichever comes first.
"""

from __future__ import annotations

import math
import secrets
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from gateway.auth.accounts import (
    ADDED,
    CHANGED,
    CLOSED,
    UNCHANGED,
    Account,
    AccountChange,
    AccountConflictError,
    AccountError,
    ActiveSession,
    InvalidAccountError,
    LoginPolicy,
    NewSession,
    SignInRefusedError,
    SignInThrottledError,
    Unchanged,
    UnknownAccountError,
    account_text,
    all_roles,
    check_name,
    check_text,
)
from gateway.auth.passwords import Passwords
from gateway.auth.policy import Role
from gateway.core.clock import Clock
from gateway.storage.account_rows import account_of, digest, from_seconds, roles_of
from gateway.storage.api_tokens import ApiTokenStore
from gateway.storage.registry import ACCOUNTS
from gateway.storage.sqlite_file import SqliteFile, Synchronous


class AccountStore(ApiTokenStore):
    """Accounts, sign-in failures and lockouts, sessions and (`ApiTokenStore`) API tokens in
    one SQLite file."""

    def __init__(
        self,
        path: Path,
        clock: Clock,
        *,
        passwords: Passwords | None = None,
        policy: LoginPolicy | None = None,
        synchronous: Synchronous = "NORMAL",
    ) -> None:
        self._file = SqliteFile(
            path,
            what=ACCOUNTS.what,
            migrations=ACCOUNTS.migrations,
            synchronous=synchronous,
            error=AccountError,
        )
        self.clock = clock
        self.passwords = passwords or Passwords()
        self.policy = policy or LoginPolicy()

    # accounts

    def has_accounts(self) -> bool:
        return bool(self._file.fetch("SELECT 1 FROM accounts LIMIT 1"))

    def get(self, name: str) -> Account | None:
        rows = self._file.fetch(
            "SELECT name, display_name, roles, person, disabled, created_at"
            " FROM accounts WHERE name = ?",
            (name,),
        )
        return account_of(rows[0]) if rows else None

    def account(self, name: str) -> Account:
        found = self.get(name)
        if found is None:
            raise UnknownAccountError(
                f"no account named {name!r}; fix: list them with GET /api/accounts or "
                "`coldchain accounts list`"
            )
        return found

    def accounts(self) -> list[Account]:
        rows = self._file.fetch(
            "SELECT name, display_name, roles, person, disabled, created_at"
            " FROM accounts ORDER BY name"
        )
        return [account_of(row) for row in rows]

    def add(
        self,
        name: str,
        password_hash: str,
        roles: Iterable[Role],
        display_name: str = "",
        person: str | None = None,
        *,
        first: bool = False,
        by: str = "",
    ) -> Account:
        """A new account; `password_hash` comes from `passwords.hash` (or `hash_async`).
        `first`: only if there is no account yet (the first-run setup). `by` made it: the
        change is kept for 附表5 (`account_changes`)."""
        check_name(name)
        check_text("the display name", display_name)
        check_text("the person id", person)
        chosen = frozenset(roles)
        if not chosen:
            raise InvalidAccountError(
                f"account {name!r} needs at least one role; roles: {all_roles()}"
            )
        with self._file.transaction("add an account to") as conn:
            if first and conn.execute("SELECT 1 FROM accounts LIMIT 1").fetchone():
                raise AccountConflictError("this gateway is already set up; fix: sign in at /login")
            if conn.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
                raise AccountConflictError(
                    f"an account named {name!r} already exists; fix: choose another name or "
                    "change that account"
                )
            conn.execute(
                "INSERT INTO accounts (name, display_name, roles, person, password_hash,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (name, display_name, ",".join(sorted(chosen)), person, password_hash, self._now()),
            )
            after = account_text(display_name, chosen, disabled=False)
            self._keep_change(conn, by or name, name, ADDED, before="", after=after)
        return self.account(name)

    def _keep_change(
        self, conn: sqlite3.Connection, by: str, name: str, kind: str, *, before: str, after: str
    ) -> None:
        conn.execute(
            "INSERT INTO account_changes (at, by_whom, account, kind, before, after)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (self._now(), by, name, kind, before, after),
        )

    def changes(self, limit: int = 200) -> list[AccountChange]:
        """The latest account changes, newest first."""
        rows = self._file.fetch(
            "SELECT id, at, by_whom, account, kind, before, after FROM account_changes"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [AccountChange(row[0], from_seconds(row[1]), *row[2:]) for row in rows]

    def update(
        self,
        name: str,
        *,
        roles: Iterable[Role] | Unchanged = UNCHANGED,
        display_name: str | Unchanged = UNCHANGED,
        person: str | Unchanged | None = UNCHANGED,
        disabled: bool | Unchanged = UNCHANGED,
        by: str = "",
    ) -> Account:
        """Change what is given, kept with `by` for 附表5 when the display name, roles or state
        changed. Disabling ends the account's sessions; the last enabled admin cannot be
        disabled or lose the admin role (nobody could manage accounts)."""
        before = self.account(name)
        new_roles = before.roles if isinstance(roles, Unchanged) else frozenset(roles)
        if not new_roles:
            raise InvalidAccountError(
                f"account {name!r} needs at least one role; roles: {all_roles()}"
            )
        new_disabled = before.disabled if isinstance(disabled, Unchanged) else disabled
        new_display = before.display_name if isinstance(display_name, Unchanged) else display_name
        new_person = before.person if isinstance(person, Unchanged) else person
        check_text("the display name", new_display)
        check_text("the person id", new_person)
        stays_admin = Role.ADMIN in new_roles and not new_disabled
        with self._file.transaction("change an account in") as conn:
            if Role.ADMIN in before.roles and not before.disabled and not stays_admin:
                others = [
                    row[0]
                    for row in conn.execute(
                        "SELECT roles FROM accounts WHERE name != ? AND disabled = 0", (name,)
                    )
                ]
                if not any(Role.ADMIN in roles_of(text) for text in others):
                    raise AccountConflictError(
                        f"{name!r} is the last enabled admin; fix: give another account the "
                        "admin role first"
                    )
            conn.execute(
                "UPDATE accounts SET roles = ?, display_name = ?, person = ?, disabled = ?"
                " WHERE name = ?",
                (",".join(sorted(new_roles)), new_display, new_person, int(new_disabled), name),
            )
            if new_disabled:
                conn.execute("DELETE FROM sessions WHERE account = ?", (name,))
            old = account_text(before.display_name, before.roles, disabled=before.disabled)
            new = account_text(new_display, new_roles, disabled=new_disabled)
            if old != new:
                kind = CLOSED if new_disabled and not before.disabled else CHANGED
                self._keep_change(conn, by or name, name, kind, before=old, after=new)
        return self.account(name)

    def set_password(self, name: str, password_hash: str) -> None:
        """A new password: ends the account's sessions and lifts any lockout of the name."""
        self.account(name)
        with self._file.transaction("change a password in") as conn:
            conn.execute(
                "UPDATE accounts SET password_hash = ? WHERE name = ?", (password_hash, name)
            )
            conn.execute("DELETE FROM sessions WHERE account = ?", (name,))
            conn.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))

    # signing in

    def throttled_until(self, name: str, address: str | None) -> datetime | None:
        """When `name` may try again from `address`; None when it may now."""
        now = self._now()
        since = now - self.policy.failure_window.total_seconds()
        until = now
        for column, value in (("name", name), ("address", address)):
            if value is None:
                continue
            count, last = self._file.fetch(
                f"SELECT count(*), max(at) FROM sign_in_failures WHERE {column} = ? AND at > ?",  # noqa: S608 (a column of two fixed names)
                (value, since),
            )[0]
            if count:
                until = max(until, last + self.policy.delay(count).total_seconds())
        return from_seconds(until) if until > now else None

    async def sign_in(self, name: str, password: str, *, address: str | None = None) -> NewSession:
        """A new session for the right password; `SignInRefusedError` (wrong name, password
        or a disabled account) or `SignInThrottledError` (too soon after failures by this name
        or from this client `address`: the password is not checked) otherwise."""
        until = self.throttled_until(name, address)
        if until is not None:
            seconds = max(1, math.ceil(until.timestamp() - self._now()))
            raise SignInThrottledError(name, until, seconds)
        rows = self._file.fetch(
            "SELECT password_hash, disabled FROM accounts WHERE name = ?", (name,)
        )
        stored = rows[0][0] if rows else self.passwords.decoy()
        right = await self.passwords.verify_async(stored, password)
        if not rows or not right or rows[0][1]:
            self._failed(name, address)
            raise SignInRefusedError("wrong account name or password")
        if self.passwords.needs_rehash(stored):
            self.set_password(name, await self.passwords.hash_async(password))
        with self._file.transaction("record a sign-in in") as conn:
            conn.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))
        return self.open_session(name)

    def unthrottle(self) -> int:
        """Forget every failed sign-in (the console's way in); how many were forgotten."""
        with self._file.transaction("forget failed sign-ins in") as conn:
            forgotten: int = conn.execute("DELETE FROM sign_in_failures").rowcount
        return forgotten

    def _failed(self, name: str, address: str | None) -> None:
        now = self._now()
        with self._file.transaction("count a failed sign-in in") as conn:
            conn.execute(
                "DELETE FROM sign_in_failures WHERE at <= ?",
                (now - self.policy.failure_window.total_seconds(),),
            )
            conn.execute(
                "INSERT INTO sign_in_failures (name, address, at) VALUES (?, ?, ?)",
                (name, address, now),
            )

    # sessions

    def open_session(self, name: str) -> NewSession:
        account = self.account(name)
        if account.disabled:
            raise SignInRefusedError(f"account {name!r} is disabled; fix: ask an admin")
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._now()
        with self._file.transaction("open a session in") as conn:
            conn.execute(
                "DELETE FROM sessions WHERE last_seen <= ? OR created_at <= ?",
                (
                    now - self.policy.session_idle.total_seconds(),
                    now - self.policy.session_max.total_seconds(),
                ),
            )
            conn.execute(
                "INSERT INTO sessions (token_hash, account, csrf, created_at, last_seen)"
                " VALUES (?, ?, ?, ?, ?)",
                (digest(token), name, csrf, now, now),
            )
        return NewSession(token, csrf, account, from_seconds(now) + self.policy.session_max)

    def session(self, token: str) -> ActiveSession | None:
        """The session of a cookie's token; None when unknown, ended, expired or disabled."""
        token_hash = digest(token)
        rows = self._file.fetch(
            "SELECT s.csrf, s.created_at, s.last_seen,"
            " a.name, a.display_name, a.roles, a.person, a.disabled, a.created_at"
            " FROM sessions s"
            " JOIN accounts a ON a.name = s.account WHERE s.token_hash = ?",
            (token_hash,),
        )
        if not rows:
            return None
        csrf, created_at, last_seen, *account_row = rows[0]
        account = account_of(tuple(account_row))
        now = self._now()
        policy = self.policy
        expired = (
            now - last_seen >= policy.session_idle.total_seconds()
            or now - created_at >= policy.session_max.total_seconds()
        )
        if expired or account.disabled:
            self.end_session(token)
            return None
        if now - last_seen >= policy.touch_every.total_seconds():
            with self._file.transaction("note a session's use in") as conn:
                conn.execute(
                    "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (now, token_hash)
                )
        return ActiveSession(account.user(), csrf)

    def end_session(self, token: str) -> None:
        with self._file.transaction("end a session in") as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", (digest(token),))
