"""Signing in for tests of the real gateway app: accounts, API tokens and sessions.

`api_token` prepares an account and a Bearer token in a gateway's data folder before the
gateway starts (end-to-end tests); `open_auth` opens the accounts store and audit log for an
app built in the test. Passwords are hashed with argon2's cheapest profile so that tests stay
fast; the hashing itself is the same code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Never

from argon2 import PasswordHasher, profiles

from gateway.auth.accounts import LoginPolicy
from gateway.auth.passwords import Passwords
from gateway.auth.policy import Role
from gateway.core.clock import Clock, SystemClock
from gateway.readings.clock_sync import ClockSync
from gateway.runtime.drivers import DriverFactory, DriverPool
from gateway.settings import Settings
from gateway.storage.accounts import AccountStore
from gateway.storage.audit_log import AuditLog
from gateway.storage.registry import ACCOUNTS, AUDIT
from gateway.web.auth_middleware import CSRF_HEADER, SecureCookies, WebAuth

TEST_PASSWORD = "correct horse battery"


def cheap_passwords() -> Passwords:
    return Passwords(PasswordHasher.from_parameters(profiles.CHEAPEST))


def open_accounts(
    data_dir: Path, clock: Clock | None = None, policy: LoginPolicy | None = None
) -> AccountStore:
    return AccountStore(
        data_dir / ACCOUNTS.file, clock or SystemClock(), passwords=cheap_passwords(), policy=policy
    )


def open_auth(
    data_dir: Path,
    clock: Clock,
    *,
    policy: LoginPolicy | None = None,
    secure: SecureCookies = "auto",
) -> WebAuth:
    """Accounts store and audit log in `data_dir`; close them with `close_auth`."""
    return WebAuth(
        open_accounts(data_dir, clock, policy), AuditLog(data_dir / AUDIT.file, clock), secure
    )


def close_auth(auth: WebAuth) -> None:
    auth.accounts.close()
    auth.audit.close()


def add_account(
    accounts: AccountStore,
    name: str,
    *roles: Role,
    person: str | None = None,
    password: str = TEST_PASSWORD,
    display_name: str = "",
) -> None:
    accounts.add(name, accounts.passwords.hash(password), roles, display_name, person)


def api_token(data_dir: Path, *roles: Role, name: str = "tester", person: str | None = None) -> str:
    """A Bearer token of a new account `name` with `roles`, written into a gateway's data
    folder (before the gateway starts, or while it runs: SQLite WAL allows both)."""
    with open_accounts(data_dir) as accounts:
        add_account(accounts, name, *roles, person=person)
        secret, _ = accounts.create_token(name, "tests")
    return secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf(token: str) -> dict[str, str]:
    return {CSRF_HEADER: token}


def stored_bytes(folder: Path, filename: str) -> bytes:
    """Everything SQLite keeps of `filename` in `folder`: the file and its -wal and -shm."""
    return b"".join(path.read_bytes() for path in sorted(folder.glob(filename + "*")))


def idle_drivers(settings: Settings, clock: Clock) -> DriverPool:
    """The driver pool of an app served without a running gateway: it polls nothing."""

    async def nowhere(item: object) -> Never:
        raise AssertionError(f"no driver runs here, yet it was given {item!r}")

    return DriverPool(settings, DriverFactory(nowhere, nowhere, clock, ClockSync(clock)))
