"""Password hashing (argon2id) and the password policy.

Parameters follow OWASP's Password Storage Cheat Sheet and ASVS 4.0 §2.4: argon2id with
19 MiB of memory, 2 iterations, parallelism 1. The policy follows ASVS §2.1: 8 to 128
characters (any Unicode, spaces kept), not one of the 30,000 most common passwords (the list
shipped with the zxcvbn package), and not the email's local part.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
MAX_LENGTH = 128

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)

#: a valid hash of a random password, verified against when the user does not exist so that
#: "no such user" and "wrong password" take the same time
DUMMY_HASH = _HASHER.hash("anima-dummy-password-never-valid")


class WeakPassword(ValueError):
    """The password breaks a policy rule; ``rule`` names it (length, common, contains-email)."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(message)


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_policy(password: str, *, email: str | None = None) -> None:
    """Raise :class:`WeakPassword` unless ``password`` satisfies the policy."""
    normalized = unicodedata.normalize("NFKC", password)
    if len(normalized) < MIN_LENGTH:
        raise WeakPassword("length", f"must be at least {MIN_LENGTH} characters")
    if len(normalized) > MAX_LENGTH:
        raise WeakPassword("length", f"must be at most {MAX_LENGTH} characters")
    if normalized.lower() in _common_passwords():
        raise WeakPassword("common", "is one of the most common passwords; choose another")
    if email:
        local = email.split("@", 1)[0].lower()
        if len(local) >= 4 and local in normalized.lower():
            raise WeakPassword("contains-email", "must not contain your email address")


def hash_password(password: str) -> str:
    """argon2id hash (PHC string) of the NFKC-normalized password."""
    return _HASHER.hash(unicodedata.normalize("NFKC", password))


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; with ``password_hash`` None, spends the same time and returns False."""
    try:
        return _HASHER.verify(password_hash or DUMMY_HASH, unicodedata.normalize("NFKC", password)) and (
            password_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)
