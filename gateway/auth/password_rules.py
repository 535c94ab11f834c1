"""What a new password must be: hard to guess, not a common password, not the account's name.

Checked where a password is chosen (first-run setup, an admin creating an account or setting a
password, `coldchain accounts add/passwd`), never at signing in. The strength estimator is
zxcvbn (its score 0–4 estimates the guesses needed; `MIN_SCORE` = 3 means about 10⁸ guesses,
out of reach at the throttled sign-in rate); the account's name and display name are given to
it as words an attacker knows. A list of common passwords (`common_passwords.txt`) is refused
whatever the score, and so is a password containing the account name.

zxcvbn is imported at the first password chosen: its dictionaries cost ~13 MB of memory that a
gateway nobody sets a password on never needs.
"""

from __future__ import annotations

import functools
import re
from importlib.resources import files
from typing import ClassVar

from gateway.auth.accounts import MAX_PASSWORD, MIN_PASSWORD, InvalidAccountError

MIN_SCORE = 3
MIN_NAME = 3  # a shorter account name may well occur by chance


class WeakPasswordError(InvalidAccountError):
    """A password that is too easy to guess; the message says why and how to choose one."""

    code: ClassVar[str] = "weak_password"


@functools.cache
def common_passwords() -> frozenset[str]:
    text = files("gateway.auth").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def check_new_password(password: str, *, account: str, display_name: str = "") -> None:
    """Nothing for a good password; `WeakPasswordError` naming the reason otherwise."""
    fix = "fix: choose a short phrase of three or four unrelated words, e.g. 'tea river lamp 7'"
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise WeakPasswordError(
            f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters; {fix}"
        )
    if not password.strip():
        raise WeakPasswordError(f"a password of only spaces is refused; {fix}")
    folded = password.lower()
    names = {account.lower(), re.sub(r"[._-]", "", account.lower())}
    if any(len(name) >= MIN_NAME and name in folded for name in names):
        raise WeakPasswordError(f"the password contains the account name {account!r}; {fix}")
    if folded.strip() in common_passwords():
        raise WeakPasswordError(f"this is one of the most common passwords; {fix}")
    parts = re.split(r"[._-]", account)
    known = [word for word in (account, display_name, *parts) if word]
    import zxcvbn

    result = zxcvbn.zxcvbn(password[:100], user_inputs=known)
    if result["score"] < MIN_SCORE:
        warning = result["feedback"].get("warning") or "it is easy to guess"
        raise WeakPasswordError(f"password too weak ({warning.rstrip('.')}); {fix}")
