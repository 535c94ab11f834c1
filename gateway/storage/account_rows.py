"""How accounts are kept in accounts.sqlite3's columns: hashed secrets, times as seconds,
roles as a comma-separated list, an account row as an `Account`."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from gateway.auth.accounts import Account
from gateway.auth.policy import Role


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def from_seconds(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def roles_of(text: str) -> frozenset[Role]:
    return frozenset(Role(name) for name in text.split(",") if name)


def account_of(row: tuple[object, ...]) -> Account:
    name, display_name, roles, person, disabled, created_at = row
    assert isinstance(name, str)
    assert isinstance(display_name, str)
    assert isinstance(roles, str)
    assert person is None or isinstance(person, str)
    assert isinstance(created_at, float)
    return Account(
        name, display_name, roles_of(roles), person, bool(disabled), from_seconds(created_at)
    )
