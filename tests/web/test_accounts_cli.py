"""`coldchain accounts ...` on a data folder, and the demo's accounts."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from gateway.auth.cli import DEMO_ACCOUNTS, demo_password, ensure_demo_accounts
from gateway.auth.policy import Role
from gateway.cli import main
from tests.web_support import open_accounts

pytestmark = pytest.mark.asyncio


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


async def test_add_list_passwd_token_revoke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["accounts", "--data-dir", str(tmp_path)]
    add = [*where, "add", "wang.fang", "--role", "manager", "--role", "technician"]
    assert run([*add, "--person", "wang", "--password-stdin"], monkeypatch, "first password\n") == 0
    assert "created wang.fang (manager, technician)" in capsys.readouterr().out
    assert (
        run([*where, "add", "x", "--role", "admin", "--password-stdin"], monkeypatch, "short\n")
        == 2
    )
    assert "8 to 256 characters" in capsys.readouterr().err
    for weak, why in [
        ("12345678", "most common passwords"), ("password", "most common passwords"),
        (" " * 8, "only spaces"), ("xwang.fangx2026", "contains the account name"),
        ("wangfang1", "contains the account name"), ("fang1234!", "too weak"),
        ("qwertyuiop", "most common"), ("zxcvbnm,./", "too weak"),
    ]:  # fmt: skip
        argv = [*where, "passwd", "wang.fang", "--password-stdin"]
        assert run(argv, monkeypatch, weak + "\n") == 2, weak
        assert why in capsys.readouterr().err, weak
    assert run([*where, "token", "wang.fang", "county-sync"], monkeypatch) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith("cc_")
    scoped = [*where, "token", "wang.fang", "scanner", "--scope", "scan,view", "--days", "7"]
    assert run(scoped, monkeypatch) == 0
    assert "scope scan,view, expires 2" in capsys.readouterr().out
    assert run([*where, "token", "wang.fang", "x", "--scope", "accounts"], monkeypatch) == 2
    assert "may not accounts" in capsys.readouterr().err

    with open_accounts(tmp_path) as accounts:
        user = accounts.token_user(secret)
        assert user is not None
        assert user.roles == {Role.MANAGER, Role.TECHNICIAN}
        assert user.person == "wang"
        session = await accounts.sign_in("wang.fang", "first password")
        assert accounts.session(session.token) is not None

    assert (
        run(
            [*where, "passwd", "wang.fang", "--password-stdin"],
            monkeypatch,
            "second lantern harbour\n",
        )
        == 0
    )
    assert run([*where, "revoke", "1"], monkeypatch) == 0
    assert run([*where, "list"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "wang.fang\tmanager,technician\t person=wang" in out
    assert "token 1\twang.fang\tcounty-sync\trevoked\tscope all of the account's" in out
    assert "token 2\twang.fang\tscanner\texpires 2" in out
    assert out.rstrip().endswith("scope scan,view")
    assert run([*where, "unthrottle"], monkeypatch) == 0
    assert "forgot 0 failed sign-in(s)" in capsys.readouterr().out
    with open_accounts(tmp_path) as accounts:
        assert accounts.token_user(secret) is None
        assert accounts.session(session.token) is None, "a new password ends the sessions"
        await accounts.sign_in("wang.fang", "second lantern harbour")
    assert run([*where, "passwd", "nobody", "--password-stdin"], monkeypatch, "whatever1\n") == 2
    assert "no account named 'nobody'" in capsys.readouterr().err


async def test_demo_accounts_once(tmp_path: Path) -> None:
    assert ensure_demo_accounts(tmp_path)
    assert not ensure_demo_accounts(tmp_path), "created only when there is no account"
    with open_accounts(tmp_path) as accounts:
        assert {account.name for account in accounts.accounts()} == {
            name for name, _, _ in DEMO_ACCOUNTS
        }
        assert {role for _, role, _ in DEMO_ACCOUNTS} == set(Role), "one per role"
        session = await accounts.sign_in("unit-head", demo_password("unit-head"))
        assert session.account.roles == {Role.UNIT_HEAD}
        assert session.account.person == "zhao"
