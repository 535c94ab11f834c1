"""The accounts store on its own: names, conflicts, unknown names locked like known ones, and
nothing secret kept in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.auth.policy import Role
from gateway.core.clock import FakeClock
from gateway.storage.accounts import (
    AccountConflictError,
    InvalidAccountError,
    LockedOutError,
    SignInRefusedError,
)
from gateway.storage.registry import ACCOUNTS
from tests.web.conftest import T0
from tests.web_support import TEST_PASSWORD, add_account, open_accounts, stored_bytes

pytestmark = pytest.mark.asyncio


async def test_unknown_names_lock_like_known_ones(tmp_path: Path) -> None:
    with open_accounts(tmp_path, FakeClock(T0)) as accounts:
        for _ in range(4):
            with pytest.raises(SignInRefusedError):
                await accounts.sign_in("ghost", "any password")
        with pytest.raises(LockedOutError) as locked:
            await accounts.sign_in("ghost", "any password")
        assert locked.value.until == accounts.locked_until("ghost")


async def test_names_conflicts_and_changes(tmp_path: Path) -> None:
    with open_accounts(tmp_path, FakeClock(T0)) as accounts:
        for bad in ("Wang", "", "-x", "a" * 33, "王芳"):
            with pytest.raises(InvalidAccountError, match="lower-case letters"):
                add_account(accounts, bad, Role.MANAGER)
        with pytest.raises(InvalidAccountError, match="8 to 256"):
            accounts.passwords.hash("short")
        add_account(accounts, "wang", Role.MANAGER, person="wang")
        with pytest.raises(AccountConflictError, match="already exists"):
            add_account(accounts, "wang", Role.HEAD)
        with pytest.raises(AccountConflictError, match="already set up"):
            accounts.add("root", accounts.passwords.hash(TEST_PASSWORD), {Role.ADMIN}, first=True)
        with pytest.raises(InvalidAccountError, match="at least one role"):
            accounts.update("wang", roles=[])
        changed = accounts.update("wang", person=None, display_name="王芳")
        assert changed.person is None
        assert changed.display_name == "王芳"
        assert changed.roles == frozenset({Role.MANAGER})


async def test_the_file_keeps_no_secret(tmp_path: Path) -> None:
    with open_accounts(tmp_path, FakeClock(T0)) as accounts:
        add_account(accounts, "wang", Role.MANAGER)
        session = await accounts.sign_in("wang", TEST_PASSWORD)
        secret, _ = accounts.create_token("wang", "phone")
    raw = stored_bytes(tmp_path, ACCOUNTS.file)
    for text in (TEST_PASSWORD, session.token, secret):
        assert text.encode() not in raw
    assert b"$argon2id$" in raw
