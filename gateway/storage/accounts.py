"""The accounts of the people who use the gateway's web pages and API, in accounts.sqlite3.

An account has a name, a display name, roles (see `gateway.auth.access`), optionally the alarm
person id it answers as, and an argon2 password hash. Signing in is counted per name: after
`max_failures` wrong passwords within `failure_window` the name is locked for `lockout`, for
known and unknown names alike (the answer does not reveal which names exist). Sessions and
API tokens are random strings; only their SHA-256 is stored, so a copy of the file does not
sign anybody in. Sessions end after `session_idle` without use or `session_max` after signing
in, whichever comes first.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.auth.policy import ACCOUNT_NAME, Role, User
from gateway.core.clock import Clock
from gateway.core.errors import GatewayError
from gateway.storage.registry import ACCOUNTS
from gateway.storage.sqlite_file import FileBacked, SqliteFile, Synchronous

NAME_PATTERN = re.compile(ACCOUNT_NAME)
MIN_PASSWORD = 8
MAX_PASSWORD = 256
MAX_TEXT = 100
API_TOKEN_PREFIX = "cc_"  # noqa: S105 (a marker, not a secret)


class AccountError(GatewayError):
    """An account operation was refused; the message names the thing and the fix."""


class UnknownAccountError(AccountError):
    """No such account or API token."""


class InvalidAccountError(AccountError):
    """A name, password, role list or text that cannot be used."""


class AccountConflictError(AccountError):
    """The change clashes with what exists: the name is taken, the last admin, set up already."""


class SignInRefusedError(AccountError):
    """Wrong name or password, or a disabled account: the same answer for all three."""


class LockedOutError(AccountError):
    def __init__(self, name: str, until: datetime) -> None:
        super().__init__(
            f"too many wrong passwords for {name!r}: signing in is locked until "
            f"{until.isoformat(timespec='seconds')}; fix: wait, or ask an admin to reset "
            "the password"
        )
        self.until = until


class _Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED: Final = _Unchanged.UNCHANGED


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_failures: int = 5
    failure_window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)
    session_idle: timedelta = timedelta(hours=2)
    session_max: timedelta = timedelta(hours=12)
    # last use is written at most this often, not on every request
    touch_every: timedelta = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    display_name: str
    roles: frozenset[Role]
    person: str | None
    disabled: bool
    created_at: datetime

    def user(self) -> User:
        return User(self.name, self.roles, self.display_name, self.person)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "roles": sorted(self.roles),
            "person": self.person,
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: `token` goes into the cookie and is not kept anywhere else."""

    token: str
    csrf: str
    account: Account
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ActiveSession:
    user: User
    csrf: str


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    name: str
    account: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "account": self.account,
            "created_at": self.created_at.isoformat(),
            "last_used_at": None if self.last_used_at is None else self.last_used_at.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
        }


class Passwords:
    """argon2id hashing. Hashing takes tens to hundreds of milliseconds by design, so the web
    handlers run it in a worker thread (`hash_async`, `verify_async`) to keep the loop free."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._decoy: str | None = None

    def decoy(self) -> str:
        """A hash of a random password, checked when the name is unknown so that an unknown
        name costs the same argon2 work as a known one."""
        if self._decoy is None:
            self._decoy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._decoy

    def hash(self, password: str) -> str:
        check_password(password)
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    async def hash_async(self, password: str) -> str:
        check_password(password)
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify_async(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self.verify, password_hash, password)


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidAccountError(
            f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters; fix: choose a "
            "longer one (a short phrase is easy to remember)"
        )


def check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise InvalidAccountError(
            f"account name {name!r}: use 1 to 32 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, e.g. wang.fang"
        )


def _check_text(what: str, value: str | None) -> None:
    if value is not None and len(value) > MAX_TEXT:
        raise InvalidAccountError(f"{what} is longer than {MAX_TEXT} characters; fix: shorten it")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _roles(text: str) -> frozenset[Role]:
    return frozenset(Role(name) for name in text.split(",") if name)


def _account(row: tuple[object, ...]) -> Account:
    name, display_name, roles, person, disabled, created_at = row
    assert isinstance(name, str)
    assert isinstance(display_name, str)
    assert isinstance(roles, str)
    assert person is None or isinstance(person, str)
    assert isinstance(created_at, float)
    return Account(name, display_name, _roles(roles), person, bool(disabled), _time(created_at))


def _api_token(row: tuple[object, ...]) -> ApiToken:
    token_id, name, account, created_at, last_used_at, revoked_at = row
    assert isinstance(token_id, int)
    assert isinstance(name, str)
    assert isinstance(account, str)
    assert isinstance(created_at, float)
    return ApiToken(
        token_id,
        name,
        account,
        _time(created_at),
        None if last_used_at is None else _time(float(str(last_used_at))),
        None if revoked_at is None else _time(float(str(revoked_at))),
    )


class AccountStore(FileBacked):
    """Accounts, sign-in failures and lockouts, sessions and API tokens in one SQLite file."""

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

    def _now(self) -> float:
        return self.clock.now().timestamp()

    # accounts

    def has_accounts(self) -> bool:
        return bool(self._file.fetch("SELECT 1 FROM accounts LIMIT 1"))

    def get(self, name: str) -> Account | None:
        rows = self._file.fetch(
            "SELECT name, display_name, roles, person, disabled, created_at"
            " FROM accounts WHERE name = ?",
            (name,),
        )
        return _account(rows[0]) if rows else None

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
        return [_account(row) for row in rows]

    def add(
        self,
        name: str,
        password_hash: str,
        roles: Iterable[Role],
        display_name: str = "",
        person: str | None = None,
        *,
        first: bool = False,
    ) -> Account:
        """A new account; `password_hash` comes from `passwords.hash` (or `hash_async`).
        `first`: only if there is no account yet (the first-run setup)."""
        check_name(name)
        _check_text("the display name", display_name)
        _check_text("the person id", person)
        chosen = frozenset(roles)
        if not chosen:
            raise InvalidAccountError(
                f"account {name!r} needs at least one role; roles: {_all_roles()}"
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
        return self.account(name)

    def update(
        self,
        name: str,
        *,
        roles: Iterable[Role] | _Unchanged = UNCHANGED,
        display_name: str | _Unchanged = UNCHANGED,
        person: str | _Unchanged | None = UNCHANGED,
        disabled: bool | _Unchanged = UNCHANGED,
    ) -> Account:
        """Change what is given. Disabling ends the account's sessions; the last enabled
        admin cannot be disabled or lose the admin role (nobody could manage accounts)."""
        before = self.account(name)
        new_roles = before.roles if isinstance(roles, _Unchanged) else frozenset(roles)
        if not new_roles:
            raise InvalidAccountError(
                f"account {name!r} needs at least one role; roles: {_all_roles()}"
            )
        new_disabled = before.disabled if isinstance(disabled, _Unchanged) else disabled
        new_display = before.display_name if isinstance(display_name, _Unchanged) else display_name
        new_person = before.person if isinstance(person, _Unchanged) else person
        _check_text("the display name", new_display)
        _check_text("the person id", new_person)
        stays_admin = Role.ADMIN in new_roles and not new_disabled
        with self._file.transaction("change an account in") as conn:
            if Role.ADMIN in before.roles and not before.disabled and not stays_admin:
                others = [
                    row[0]
                    for row in conn.execute(
                        "SELECT roles FROM accounts WHERE name != ? AND disabled = 0", (name,)
                    )
                ]
                if not any(Role.ADMIN in _roles(text) for text in others):
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
        return self.account(name)

    def set_password(self, name: str, password_hash: str) -> None:
        """A new password: ends the account's sessions and lifts any lockout of the name."""
        self.account(name)
        with self._file.transaction("change a password in") as conn:
            conn.execute(
                "UPDATE accounts SET password_hash = ? WHERE name = ?", (password_hash, name)
            )
            conn.execute("DELETE FROM sessions WHERE account = ?", (name,))
            conn.execute("DELETE FROM lockouts WHERE name = ?", (name,))
            conn.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))

    # signing in

    def locked_until(self, name: str) -> datetime | None:
        rows = self._file.fetch("SELECT until FROM lockouts WHERE name = ?", (name,))
        if rows and rows[0][0] > self._now():
            return _time(rows[0][0])
        return None

    async def sign_in(self, name: str, password: str) -> NewSession:
        """A new session for the right password; `SignInRefusedError` (wrong name, password
        or a disabled account) or `LockedOutError` otherwise."""
        until = self.locked_until(name)
        if until is not None:
            raise LockedOutError(name, until)
        rows = self._file.fetch(
            "SELECT password_hash, disabled FROM accounts WHERE name = ?", (name,)
        )
        stored = rows[0][0] if rows else self.passwords.decoy()
        right = await self.passwords.verify_async(stored, password)
        if not rows or not right or rows[0][1]:
            self._failed(name)
            raise SignInRefusedError("wrong account name or password")
        if self.passwords.needs_rehash(stored):
            self.set_password(name, await self.passwords.hash_async(password))
        with self._file.transaction("record a sign-in in") as conn:
            conn.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))
        return self.open_session(name)

    def _failed(self, name: str) -> None:
        now = self._now()
        policy = self.policy
        with self._file.transaction("count a failed sign-in in") as conn:
            conn.execute(
                "DELETE FROM sign_in_failures WHERE at <= ?",
                (now - policy.failure_window.total_seconds(),),
            )
            conn.execute("INSERT INTO sign_in_failures (name, at) VALUES (?, ?)", (name, now))
            (count,) = conn.execute(
                "SELECT count(*) FROM sign_in_failures WHERE name = ?", (name,)
            ).fetchone()
            if count < policy.max_failures:
                return
            until = now + policy.lockout.total_seconds()
            conn.execute(
                "INSERT INTO lockouts (name, until) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET until = excluded.until",
                (name, until),
            )
            conn.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))
        raise LockedOutError(name, _time(until))

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
                (_digest(token), name, csrf, now, now),
            )
        return NewSession(token, csrf, account, _time(now) + self.policy.session_max)

    def session(self, token: str) -> ActiveSession | None:
        """The session of a cookie's token; None when unknown, ended, expired or disabled."""
        digest = _digest(token)
        rows = self._file.fetch(
            "SELECT s.csrf, s.created_at, s.last_seen,"
            " a.name, a.display_name, a.roles, a.person, a.disabled, a.created_at"
            " FROM sessions s"
            " JOIN accounts a ON a.name = s.account WHERE s.token_hash = ?",
            (digest,),
        )
        if not rows:
            return None
        csrf, created_at, last_seen, *account_row = rows[0]
        account = _account(tuple(account_row))
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
                    "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (now, digest)
                )
        return ActiveSession(account.user(), csrf)

    def end_session(self, token: str) -> None:
        with self._file.transaction("end a session in") as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))

    # API tokens

    def create_token(self, account: str, name: str) -> tuple[str, ApiToken]:
        """A new API token for `account`: the secret (shown once, never stored) and its row."""
        self.account(account)
        if not name.strip() or len(name) > MAX_TEXT:
            raise InvalidAccountError(
                f"a token needs a name of 1 to {MAX_TEXT} characters saying where it is used, "
                "e.g. county-sync"
            )
        secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._file.transaction("create an API token in") as conn:
            cursor = conn.execute(
                "INSERT INTO api_tokens (token_hash, name, account, created_at)"
                " VALUES (?, ?, ?, ?)",
                (_digest(secret), name, account, self._now()),
            )
            token_id = cursor.lastrowid
        assert token_id is not None
        return secret, self.token(token_id)

    def token(self, token_id: int) -> ApiToken:
        rows = self._file.fetch(
            "SELECT id, name, account, created_at, last_used_at, revoked_at"
            " FROM api_tokens WHERE id = ?",
            (token_id,),
        )
        if not rows:
            raise UnknownAccountError(
                f"no API token with id {token_id}; fix: list them with GET /api/tokens"
            )
        return _api_token(rows[0])

    def tokens(self, account: str | None = None) -> list[ApiToken]:
        if account is None:
            rows = self._file.fetch(
                "SELECT id, name, account, created_at, last_used_at, revoked_at"
                " FROM api_tokens ORDER BY id"
            )
        else:
            rows = self._file.fetch(
                "SELECT id, name, account, created_at, last_used_at, revoked_at"
                " FROM api_tokens WHERE account = ?"
                " ORDER BY id",
                (account,),
            )
        return [_api_token(row) for row in rows]

    def revoke_token(self, token_id: int) -> ApiToken:
        self.token(token_id)
        with self._file.transaction("revoke an API token in") as conn:
            conn.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (self._now(), token_id),
            )
        return self.token(token_id)

    def token_user(self, secret: str) -> User | None:
        """The account behind a Bearer token; None when unknown, revoked or disabled."""
        rows = self._file.fetch(
            "SELECT t.id, t.last_used_at,"
            " a.name, a.display_name, a.roles, a.person, a.disabled, a.created_at"
            " FROM api_tokens t"
            " JOIN accounts a ON a.name = t.account"
            " WHERE t.token_hash = ? AND t.revoked_at IS NULL",
            (_digest(secret),),
        )
        if not rows:
            return None
        token_id, last_used_at, *account_row = rows[0]
        account = _account(tuple(account_row))
        if account.disabled:
            return None
        now = self._now()
        if last_used_at is None or now - last_used_at >= self.policy.touch_every.total_seconds():
            with self._file.transaction("note an API token's use in") as conn:
                conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, token_id))
        return account.user()


def _all_roles() -> str:
    return ", ".join(role.value for role in Role)
