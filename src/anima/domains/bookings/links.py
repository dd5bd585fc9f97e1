"""Manage-by-link: the signed, single-purpose token of one booking and the URL that carries it.

A token is ``<booking id, 22 URL-safe characters><HMAC, 32 URL-safe characters>``: the booking's
id (base64url of its 16 bytes) and the first 24 bytes of HMAC-SHA256 over
``"booking-manage|<tenant id>|<booking id>"`` under a key derived from the application's secret
key (``ANIMA_SECRET_KEY``). It needs no table: it cannot be guessed (192 bits of MAC), it opens
one booking of one organization only (the tenant id is signed), and it serves only this purpose
(the purpose is signed, so no other token of Anima verifies here). It stops working once the
session has started (checked by the page, :func:`usable`), and a changed secret key revokes every
link at once. Comparison is constant-time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import re
import uuid

from anima.domains.bookings.models import ACTIVE, Booking

#: the shape of a manage token; anything else is never looked up
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{54}$")
_PURPOSE = b"anima/booking-manage/v1"


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _mac(secret_key: str, tenant_id: int, booking_id: uuid.UUID) -> str:
    message = f"booking-manage|{tenant_id}|{booking_id}".encode()
    return _b64(hmac.new(_key(secret_key), message, hashlib.sha256).digest()[:24])


def manage_token(secret_key: str, tenant_id: int, booking_id: uuid.UUID) -> str:
    """The 54-character manage token of ``booking_id`` in tenant ``tenant_id``."""
    return _b64(booking_id.bytes) + _mac(secret_key, tenant_id, booking_id)


def booking_of(secret_key: str, tenant_id: int, token: str) -> uuid.UUID | None:
    """The booking id a token opens in tenant ``tenant_id``, or None (wrong shape, tenant or MAC)."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    try:
        booking_id = uuid.UUID(bytes=base64.urlsafe_b64decode(token[:22] + "=="))
    except (binascii.Error, ValueError):
        return None
    if _b64(booking_id.bytes) != token[:22]:
        return None  # a non-canonical spelling of the id (its last character's 2 spare bits)
    if not hmac.compare_digest(token[22:], _mac(secret_key, tenant_id, booking_id)):
        return None
    return booking_id


def manage_path(secret_key: str, org_slug: str, tenant_id: int, booking_id: uuid.UUID) -> str:
    """The site-relative path of a booking's manage page (``/p/<slug>/b/<token>``)."""
    return f"/p/{org_slug}/b/{manage_token(secret_key, tenant_id, booking_id)}"


def manage_url(public_url: str, secret_key: str, org_slug: str, tenant_id: int, booking_id: uuid.UUID) -> str:
    """The absolute manage URL a confirmation email carries: ``<public_url>/p/<slug>/b/<token>``.

    ``public_url`` and ``secret_key`` are the application settings' (``ANIMA_PUBLIC_URL``,
    ``ANIMA_SECRET_KEY``)."""
    return public_url.rstrip("/") + manage_path(secret_key, org_slug, tenant_id, booking_id)


def usable(booking: Booking, now: datetime.datetime) -> bool:
    """Whether the link may still change the booking: it is HELD or CONFIRMED and has not started."""
    return booking.status in ACTIVE and booking.starts_at > now
