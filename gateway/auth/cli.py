"""`coldchain accounts add|list|passwd|token|revoke`: accounts from the shell, e.g. the first
admin on a gateway installed without a browser at hand, and the demo's documented accounts.

The command works on the data folder of a configuration (`--config`) or a folder given
directly (`--data-dir`); it may run while the gateway runs (SQLite WAL).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from gateway.auth.accounts import TOKEN_DAYS, AccountError, ApiToken
from gateway.auth.password_rules import check_new_password
from gateway.auth.policy import Action, Role
from gateway.core.clock import SystemClock
from gateway.settings import load_settings
from gateway.storage.accounts import AccountStore
from gateway.storage.registry import ACCOUNTS

# The demo's accounts, one per role, documented in the README: name, role, alarm person id
# (the demo configuration's tiers: wang, li, zhao). The password is "demo-" + the name.
DEMO_ACCOUNTS: list[tuple[str, Role, str | None]] = [
    ("admin", Role.ADMIN, None),
    ("technician", Role.TECHNICIAN, None),
    ("manager", Role.MANAGER, "wang"),
    ("head", Role.HEAD, "li"),
    ("unit-head", Role.UNIT_HEAD, "zhao"),
    ("vaccinator", Role.VACCINATOR, None),
    ("county", Role.COUNTY, None),
]


def demo_password(name: str) -> str:
    return f"demo-{name}"


def add_accounts_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `accounts` to the `coldchain` subcommands (`commands` from add_subparsers)."""
    accounts = commands.add_parser("accounts", help="accounts of the web pages and API")
    where = accounts.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path, help="gateway TOML file (its gateway.data_dir)")
    where.add_argument("--data-dir", type=Path, help="the gateway's data folder")
    actions = accounts.add_subparsers(dest="accounts_command", required=True)

    add = actions.add_parser("add", help="create an account (asks for its password)")
    add.add_argument("name", help="sign-in name, e.g. wang.fang")
    add.add_argument(
        "--role",
        dest="roles",
        action="append",
        required=True,
        choices=[role.value for role in Role],
        help="a role (repeat for several)",
    )
    add.add_argument("--display-name", default="", help="full name shown on the pages")
    add.add_argument("--person", help="the alarm tier person id this account answers as")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    actions.add_parser("list", help="list the accounts and API tokens")

    passwd = actions.add_parser("passwd", help="set a new password (ends its sessions)")
    passwd.add_argument("name")
    passwd.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )

    token = actions.add_parser("token", help="create an API token (printed once)")
    token.add_argument("name", help="the account the token acts as")
    token.add_argument("label", help="where the token is used, e.g. county-sync")
    token.add_argument(
        "--scope",
        help="comma-separated actions the token may do, e.g. view,scan (default: all of the "
        "account's)",
    )
    token.add_argument(
        "--days", type=int, default=TOKEN_DAYS, help=f"days until it expires (default {TOKEN_DAYS})"
    )

    actions.add_parser(
        "unthrottle", help="forget failed sign-ins: whoever was slowed down may sign in at once"
    )

    revoke = actions.add_parser("revoke", help="revoke an API token by its id")
    revoke.add_argument("id", type=int)


def run_accounts(args: argparse.Namespace) -> int:
    data_dir = args.data_dir if args.data_dir is not None else _data_dir(args.config)
    with AccountStore(data_dir / ACCOUNTS.file, SystemClock()) as accounts:
        command = args.accounts_command
        if command == "add":
            password = _password(args.password_stdin)
            check_new_password(password, account=args.name, display_name=args.display_name)
            roles = [Role(role) for role in args.roles]
            account = accounts.add(
                args.name, accounts.passwords.hash(password), roles, args.display_name, args.person
            )
            print(f"created {account.name} ({', '.join(sorted(account.roles))})")
        elif command == "list":
            _list(accounts)
        elif command == "passwd":
            account = accounts.account(args.name)
            password = _password(args.password_stdin)
            check_new_password(password, account=account.name, display_name=account.display_name)
            accounts.set_password(args.name, accounts.passwords.hash(password))
            print(f"new password set for {args.name}; its sessions ended")
        elif command == "token":
            scope = None if args.scope is None else _actions(args.scope)
            secret, token = accounts.create_token(
                args.name, args.label, scope=scope, days=args.days
            )
            print(
                f"API token {token.id} ({token.name}) for {token.account}, scope "
                f"{_scope_text(token)}, expires {token.expires_at:%Y-%m-%d}; send it as"
                " 'Authorization: Bearer <token>'. It is shown only now:"
            )
            print(secret)
        elif command == "unthrottle":
            print(f"forgot {accounts.unthrottle()} failed sign-in(s); everyone may sign in now")
        else:
            token = accounts.revoke_token(args.id)
            print(f"revoked API token {token.id} ({token.name}) of {token.account}")
    return 0


def _data_dir(config: Path) -> Path:
    return load_settings(config).gateway.data_dir


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ; fix: type the same password twice")
    return first


def _list(accounts: AccountStore) -> None:
    for account in accounts.accounts():
        state = " (disabled)" if account.disabled else ""
        person = f" person={account.person}" if account.person else ""
        print(
            f"{account.name}\t{','.join(sorted(account.roles))}\t"
            f"{account.display_name}{person}{state}"
        )
    for token in accounts.tokens():
        state = "revoked" if token.revoked_at else f"expires {token.expires_at:%Y-%m-%d}"
        print(
            f"token {token.id}\t{token.account}\t{token.name}\t{state}\tscope {_scope_text(token)}"
        )


def _scope_text(token: ApiToken) -> str:
    return "all of the account's" if token.scope is None else ",".join(sorted(token.scope))


def _actions(text: str) -> list[Action]:
    try:
        return [Action(name.strip()) for name in text.split(",") if name.strip()]
    except ValueError:
        known = ", ".join(action.value for action in Action)
        raise AccountError(f"--scope {text!r}: the actions are {known}") from None


def ensure_demo_accounts(data_dir: Path) -> bool:
    """Create the demo accounts when the folder has no account yet; True if created."""
    with AccountStore(data_dir / ACCOUNTS.file, SystemClock()) as accounts:
        if accounts.has_accounts():
            return False
        for name, role, person in DEMO_ACCOUNTS:
            password_hash = accounts.passwords.hash(demo_password(name))
            accounts.add(name, password_hash, {role}, f"演示 {role.value}", person)
    return True
