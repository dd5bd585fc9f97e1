"""Keyed blind indexes for equality search on encrypted identifiers.

``blind_index(key, kind, value)`` is HMAC-SHA256 under the tenant's index key (a random 32-byte
key stored wrapped in ``data_keys`` with purpose ``index``) over ``kind || 0x00 || normalized``.
Equal normalized values give equal digests within one tenant, and nothing outside it: another
tenant's index key differs. The index key does **not** rotate with data keys (rotating it would
mean recomputing every index); master-key rotation re-wraps it like any data key.

Normalization: emails are trimmed and lowercased; phones keep a leading ``+`` and the digits only
(``+34 600-11-22-33`` -> ``+34600112233``), 7 to 15 digits (E.164's bound).
"""

from __future__ import annotations

import hashlib
import hmac
import re

_NON_DIGIT = re.compile(r"[^0-9]")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")


def normalize_email(value: str) -> str:
    """Trimmed, lowercased; raises ValueError when it does not look like an address."""
    value = value.strip().lower()
    if not EMAIL_RE.fullmatch(value):
        raise ValueError("not an email address")
    return value


def normalize_phone(value: str) -> str:
    """``+`` (when given) and digits; raises ValueError unless 7-15 digits remain."""
    stripped = value.strip()
    if not re.fullmatch(r"\+?[0-9 ().\-/]{7,30}", stripped):
        raise ValueError("a phone number has digits, spaces and + ( ) - . / only")
    digits = _NON_DIGIT.sub("", stripped)
    if not 7 <= len(digits) <= 15:
        raise ValueError("a phone number has 7 to 15 digits")
    return ("+" if stripped.startswith("+") else "") + digits


NORMALIZERS = {"email": normalize_email, "phone": normalize_phone}


def blind_index(key: bytes, kind: str, value: str) -> bytes:
    """HMAC-SHA256 (32 bytes) of the normalized ``value`` of ``kind`` ("email" or "phone")."""
    normalized = NORMALIZERS[kind](value)
    return hmac.new(key, kind.encode() + b"\x00" + normalized.encode(), hashlib.sha256).digest()
