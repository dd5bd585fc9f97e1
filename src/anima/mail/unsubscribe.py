"""Signed unsubscribe links of marketing emails (RFC 2369 List-Unsubscribe, RFC 8058 one-click).

A token names one recipient of one organization: ``base64url(tenant id (8 bytes, big-endian) ||
recipient blind index (32 bytes)) "." base64url(HMAC-SHA256(key, that payload)[:16])``, the key
being derived from ``ANIMA_SECRET_KEY`` for this purpose alone. It carries no address (the blind
index is a keyed hash only the tenant's index key reproduces) and never expires: an unsubscribe
link must work as long as the email is read. Changing ``ANIMA_SECRET_KEY`` retires old links.

* :func:`make_token` / :func:`read_token` — sign and check (constant-time comparison).
* :func:`headers` — the ``List-Unsubscribe`` (the HTTPS link that takes the one-click POST) and
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` header pair of a marketing message.
* :func:`page_link` — the page a person opens (it asks before recording).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

#: the shape of a token (54 + 1 + 22 URL-safe characters); anything else is never looked at
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{54}\.[A-Za-z0-9_-]{22}$")
#: the path of the one-click endpoint (POST; a GET there redirects to the page)
ONE_CLICK_PATH = "/api/v1/unsubscribe"
#: the path of the page a person opens
PAGE_PATH = "/unsubscribe"


@dataclass(frozen=True)
class Recipient:
    """Who a token names: the organization (tenant id) and the recipient's email blind index."""

    tenant_id: int
    recipient_bidx: bytes


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"anima unsubscribe links v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret_key: str, tenant_id: int, recipient_bidx: bytes) -> str:
    """The token of (``tenant_id``, ``recipient_bidx``); ``recipient_bidx`` is 32 bytes."""
    if len(recipient_bidx) != 32 or not 0 < tenant_id < 2**63:
        raise ValueError("a token names a tenant id and a 32-byte blind index")
    payload = tenant_id.to_bytes(8, "big") + recipient_bidx
    signature = hmac.new(_key(secret_key), payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(signature)}"


def read_token(secret_key: str, token: str) -> Recipient | None:
    """The recipient ``token`` names, or None when it is not one of ours (shape or signature)."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    encoded, _, signed = token.partition(".")
    try:
        payload, signature = _unb64(encoded), _unb64(signed)
    except (ValueError, TypeError):
        return None
    if _b64(payload) != encoded or _b64(signature) != signed:
        return None  # one canonical spelling per token
    if len(payload) != 40 or not hmac.compare_digest(hmac.new(_key(secret_key), payload, hashlib.sha256).digest()[:16], signature):
        return None
    tenant_id = int.from_bytes(payload[:8], "big")
    return Recipient(tenant_id, payload[8:]) if tenant_id > 0 else None


def page_link(public_url: str, token: str) -> str:
    """The unsubscribe page of ``token`` (shown in the message's footer)."""
    return f"{public_url}{PAGE_PATH}/{token}"


def headers(public_url: str, token: str) -> tuple[tuple[str, str], ...]:
    """``List-Unsubscribe`` (RFC 2369: the one-click HTTPS URI in angle brackets) and
    ``List-Unsubscribe-Post`` (RFC 8058: a mail client POSTs ``List-Unsubscribe=One-Click`` there)."""
    return (
        ("List-Unsubscribe", f"<{public_url}{ONE_CLICK_PATH}/{token}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    )


__all__ = ["ONE_CLICK_PATH", "PAGE_PATH", "TOKEN_SHAPE", "Recipient", "headers", "make_token", "page_link", "read_token"]
