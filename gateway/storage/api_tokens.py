"""API tokens, kept in the accounts file beside the accounts they act for: a token is a random
secret of which only the SHA-256 is stored, scoped to some of its account's actions, and
expires. `AccountStore` is an `ApiTokenStore`."""

from __future__ import annotations

import secrets
from abc import abstractmethod
from collections.abc import Iterable
from dataclasses import replace

from gateway.auth.accounts import (
    API_TOKEN_PREFIX,
    MAX_TEXT,
    MAX_TOKEN_DAYS,
    TOKEN_DAYS,
    Account,
    ApiToken,
    InvalidAccountError,
    LoginPolicy,
    UnknownAccountError,
)
from gateway.auth.policy import Action, User
from gateway.core.clock import Clock
from gateway.storage.account_rows import account_of, digest, from_seconds
from gateway.storage.sqlite_file import FileBacked

_TOKEN_COLUMNS = "id, name, account, created_at, last_used_at, revoked_at, scope, expires_at"  # noqa: S105


def _scope(text: object) -> frozenset[Action] | None:
    return (
        None if text is None else frozenset(Action(name) for name in str(text).split(",") if name)
    )


def _api_token(row: tuple[object, ...]) -> ApiToken:
    token_id, name, account, created_at, last_used_at, revoked_at, scope, expires_at = row
    assert isinstance(token_id, int)
    assert isinstance(name, str)
    assert isinstance(account, str)
    assert isinstance(created_at, float)
    assert isinstance(expires_at, float)
    return ApiToken(
        token_id,
        name,
        account,
        from_seconds(created_at),
        None if last_used_at is None else from_seconds(float(str(last_used_at))),
        None if revoked_at is None else from_seconds(float(str(revoked_at))),
        _scope(scope),
        from_seconds(expires_at),
    )


class ApiTokenStore(FileBacked):
    """The API tokens' part of the accounts file."""

    clock: Clock
    policy: LoginPolicy

    def _now(self) -> float:
        return self.clock.now().timestamp()

    @abstractmethod
    def account(self, name: str) -> Account:
        """The account of this name; `UnknownAccountError` if there is none."""

    def create_token(
        self,
        account: str,
        name: str,
        *,
        scope: Iterable[Action] | None = None,
        days: int = TOKEN_DAYS,
    ) -> tuple[str, ApiToken]:
        """A new API token for `account`: the secret (shown once, never stored) and its row.
        `scope` (None: every action of the account) must be actions the account may do; the
        token expires after `days` (1 to `MAX_TOKEN_DAYS`)."""
        user = self.account(account).user()
        if not name.strip() or len(name) > MAX_TEXT:
            raise InvalidAccountError(
                f"a token needs a name of 1 to {MAX_TEXT} characters saying where it is used, "
                "e.g. county-sync"
            )
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise InvalidAccountError(
                f"a token lasts 1 to {MAX_TOKEN_DAYS} days, not {days}; fix: make a new one "
                "before it expires"
            )
        actions = None if scope is None else frozenset(scope)
        if actions is not None:
            beyond = sorted(action.value for action in actions if not user.may(action))
            if not actions or beyond:
                allowed = ", ".join(sorted(a.value for a in Action if user.may(a)))
                raise InvalidAccountError(
                    f"a token's scope is some of the actions its account may do; {account} "
                    f"may not {', '.join(beyond) or 'do an empty scope'}; fix: choose from "
                    f"{allowed}"
                )
        now = self._now()
        secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._file.transaction("create an API token in") as conn:
            cursor = conn.execute(
                "INSERT INTO api_tokens"
                " (token_hash, name, account, created_at, scope, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    digest(secret),
                    name,
                    account,
                    now,
                    None if actions is None else ",".join(sorted(actions)),
                    now + days * 86400,
                ),
            )
            token_id = cursor.lastrowid
        assert token_id is not None
        return secret, self.token(token_id)

    def token(self, token_id: int) -> ApiToken:
        rows = self._file.fetch(
            f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE id = ?",  # noqa: S608 (fixed columns)
            (token_id,),
        )
        if not rows:
            raise UnknownAccountError(
                f"no API token with id {token_id}; fix: list them with GET /api/tokens"
            )
        return _api_token(rows[0])

    def tokens(self, account: str | None = None) -> list[ApiToken]:
        if account is None:
            rows = self._file.fetch(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens ORDER BY id")  # noqa: S608
        else:
            rows = self._file.fetch(
                f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE account = ? ORDER BY id",  # noqa: S608
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
        """The account behind a Bearer token, limited to the token's scope; None when unknown,
        revoked, expired or disabled."""
        now = self._now()
        rows = self._file.fetch(
            "SELECT t.id, t.last_used_at, t.scope,"
            " a.name, a.display_name, a.roles, a.person, a.disabled, a.created_at"
            " FROM api_tokens t"
            " JOIN accounts a ON a.name = t.account"
            " WHERE t.token_hash = ? AND t.revoked_at IS NULL AND t.expires_at > ?",
            (digest(secret), now),
        )
        if not rows:
            return None
        token_id, last_used_at, scope, *account_row = rows[0]
        account = account_of(tuple(account_row))
        if account.disabled:
            return None
        if last_used_at is None or now - last_used_at >= self.policy.touch_every.total_seconds():
            with self._file.transaction("note an API token's use in") as conn:
                conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, token_id))
        return replace(account.user(), scope=_scope(scope))
