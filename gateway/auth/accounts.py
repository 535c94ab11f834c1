"""Accounts, sessions and API tokens as values, the rules their names and texts follow, and
the refusals an account operation gives (`gateway.storage.accounts` keeps them in
accounts.sqlite3). Wrong passwords slow the guesser down by `LoginPolicy.delay`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import ClassVar, Final

from gateway.auth.policy import ACCOUNT_NAME, Action, Role, User
from gateway.core.errors import GatewayError

NAME_PATTERN = re.compile(ACCOUNT_NAME)
MIN_PASSWORD = 8
MAX_PASSWORD = 256
MAX_TEXT = 100
TOKEN_DAYS, MAX_TOKEN_DAYS = 90, 365
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


class SignInThrottledError(AccountError):
    """Too many wrong passwords lately, by this name or from this address: try again at
    `until` (the password was not checked)."""

    code: ClassVar[str] = "sign_in_throttled"

    def __init__(self, name: str, until: datetime, seconds: int) -> None:
        super().__init__(
            f"too many wrong passwords for {name!r} or from this address: try again in "
            f"{seconds} s; fix: wait, or sign in from the gateway's own console, or ask an "
            "admin to set a new password (coldchain accounts passwd)"
        )
        self.until = until
        self.seconds = seconds


class Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED: Final = Unchanged.UNCHANGED


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    free_failures: int = 3
    first_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(seconds=60)
    failure_window: timedelta = timedelta(minutes=15)
    session_idle: timedelta = timedelta(hours=2)
    session_max: timedelta = timedelta(hours=12)
    # last use is written at most this often, not on every request
    touch_every: timedelta = timedelta(minutes=1)

    def delay(self, failures: int) -> timedelta:
        """How long after the last of `failures` recent failures the next attempt waits."""
        if failures < self.free_failures:
            return timedelta(0)
        factor: int = 2 ** min(failures - self.free_failures, 32)
        return min(self.first_delay * factor, self.max_delay)


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
    """An API token; `scope` None acts with every action of its account, else only those."""

    id: int
    name: str
    account: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    scope: frozenset[Action] | None
    expires_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "account": self.account,
            "scope": None if self.scope is None else sorted(self.scope),
            "expires_at": self.expires_at.isoformat(),
            "created_at": self.created_at.isoformat(),
            "last_used_at": None if self.last_used_at is None else self.last_used_at.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
        }


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


def check_text(what: str, value: str | None) -> None:
    if value is not None and len(value) > MAX_TEXT:
        raise InvalidAccountError(f"{what} is longer than {MAX_TEXT} characters; fix: shorten it")


def all_roles() -> str:
    return ", ".join(role.value for role in Role)


# 附表5 (系统用户变更申请表): the kinds of change the paper form ticks
ADDED, DELETED, CLOSED, CHANGED = "新增", "删除", "关闭", "修改"


@dataclass(frozen=True, slots=True)
class AccountChange:
    """One account added or changed: who did it, and the account before and after as the
    form writes it (用户名称: display name, account name, roles, state)."""

    id: int
    at: datetime
    by: str
    account: str
    kind: str
    before: str
    after: str

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "by": self.by,
            "account": self.account,
            "kind": self.kind,
            "before": self.before,
            "after": self.after,
        }


def account_text(display_name: str, roles: frozenset[Role], *, disabled: bool) -> str:
    state = "，已停用" if disabled else ""
    return f"{display_name or '（无显示名）'}，角色：{'、'.join(sorted(roles))}{state}"
