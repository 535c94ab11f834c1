"""The accounts store on its own: names, conflicts, unknown names throttled like known ones,
what an attacker's guessing rate comes to, scoped and expiring tokens, and nothing secret kept
in the file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.auth.accounts import (
    AccountConflictError,
    InvalidAccountError,
    LoginPolicy,
    SignInRefusedError,
    SignInThrottledError,
)
from gateway.auth.policy import Action, ForbiddenError, Role, authorize
from gateway.core.clock import FakeClock
from gateway.storage.accounts import AccountStore
from gateway.storage.registry import ACCOUNTS
from tests.web.conftest import T0
from tests.web_support import TEST_PASSWORD, add_account, open_accounts, stored_bytes

pytestmark = pytest.mark.asyncio


async def test_unknown_names_are_throttled_like_known_ones(tmp_path: Path) -> None:
    with open_accounts(tmp_path, FakeClock(T0)) as accounts:
        for _ in range(LoginPolicy().free_failures):
            with pytest.raises(SignInRefusedError):
                await accounts.sign_in("ghost", "any password")
        with pytest.raises(SignInThrottledError) as slowed:
            await accounts.sign_in("ghost", "any password")
        assert slowed.value.until == accounts.throttled_until("ghost", None)
        assert slowed.value.seconds == 1


async def _guesses_per_minute(accounts: AccountStore, clock: FakeClock, spread: bool) -> list[int]:
    """An attacker guessing the admin's password as fast as allowed for an hour, from one
    address or from a new address each time (`spread`): guesses checked in each minute."""
    per_minute = [0] * 60
    start = clock.now()
    guess = 0
    while (elapsed := clock.now() - start) < timedelta(hours=1):
        address = f"10.0.{guess // 250}.{guess % 250}" if spread else "10.0.0.66"
        try:
            await accounts.sign_in("admin", f"guess {guess}", address=address)
        except SignInRefusedError:
            per_minute[int(elapsed.total_seconds() // 60)] += 1
            guess += 1
        except SignInThrottledError as slowed:
            await clock.advance(slowed.seconds)
    return per_minute


async def test_an_attacker_gets_about_one_guess_a_minute(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    with open_accounts(tmp_path, clock) as accounts:
        add_account(accounts, "admin", Role.ADMIN)
        add_account(accounts, "wang", Role.MANAGER)
        one = await _guesses_per_minute(accounts, clock, spread=False)
        assert one[0] == 8, "3 free, then after 1, 2, 4, 8 and 16 s"
        assert max(one[5:]) == 1, "then one a minute"
        accounts.unthrottle()
        many = await _guesses_per_minute(accounts, clock, spread=True)
        assert many == one, "new addresses do not help: the account's own delay holds"
        elsewhere = await accounts.sign_in("wang", TEST_PASSWORD, address="10.9.9.9")
        assert elsewhere.account.name == "wang", "others sign in meanwhile, unslowed"
        print(f"throttling: {one[0]} guesses in the first minute, then {one[-1]} a minute; "
              f"{sum(one)} in the first hour")  # fmt: skip


async def test_tokens_have_a_scope_and_an_expiry(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    with open_accounts(tmp_path, clock) as accounts:
        add_account(accounts, "wang", Role.MANAGER)
        secret, token = accounts.create_token("wang", "scanner", scope=[Action.SCAN], days=30)
        assert token.to_json()["scope"] == ["scan"]
        assert token.expires_at == T0 + timedelta(days=30)
        user = accounts.token_user(secret)
        assert user is not None
        assert user.may(Action.SCAN)
        assert not user.may(Action.STOCK_RECEIVE), "the account may, the token may not"
        assert not user.may(Action.VIEW_PERSONAL_DATA)
        with pytest.raises(ForbiddenError, match="its scope is scan"):
            authorize(user, Action.VIEW)
        with pytest.raises(InvalidAccountError, match="may not accounts"):
            accounts.create_token("wang", "x", scope=[Action.ACCOUNTS])
        with pytest.raises(InvalidAccountError, match="1 to 365 days"):
            accounts.create_token("wang", "x", days=366)
        whole, _ = accounts.create_token("wang", "desk")
        assert accounts.token_user(whole) == accounts.account("wang").user()
        await clock.advance(timedelta(days=30).total_seconds())
        assert accounts.token_user(secret) is None, "expired"
        assert accounts.token_user(whole) is not None


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
