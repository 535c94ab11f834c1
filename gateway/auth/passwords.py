"""argon2id password hashes: what the account store keeps instead of a password."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.auth.accounts import check_password


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
