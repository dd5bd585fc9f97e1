"""Tables of Google Calendar: one connection per therapist, one pending authorization per start of
the OAuth flow, one sync row per booking mirrored into Google.

* ``google_calendar_connections`` — one per therapist (``therapist_id`` unique): the access and
  refresh tokens **encrypted** like clinical fields (sealed by :class:`~anima.crypto.cipher.FieldCipher`
  under the row's ``id``, which key rotation re-seals by; never stored in clear, never logged), when the access token
  expires, the calendar chosen (``primary`` unless changed), the last error of a FreeBusy read or
  an event sync (a short technical sentence, no token, no patient data) and whether Google refused
  the refresh token (``needs_reconnect``).
* ``google_oauth_states`` — one row per authorization started: the SHA-256 of the ``state`` sent
  to Google (the state itself is never stored), the member it is bound to and the PKCE
  ``code_verifier`` (encrypted). Deleted when the callback uses it: a state works once.
* ``google_event_syncs`` — keyed by booking: the event id in Google (deterministic, see
  :func:`anima.domains.gcal.sync.event_id`), the calendar it lives in, whether it exists there now,
  attempts and the last error.
"""

from __future__ import annotations

import datetime
import uuid

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from anima.crypto.types import EncryptedText
from anima.db.base import TenantBase, UUIDKey, utcnow


class GoogleConnection(UUIDKey, TenantBase):
    """A therapist's connected Google account (tokens encrypted under the row's ``id``)."""

    __tablename__ = "google_calendar_connections"

    therapist_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("staff.id", ondelete="CASCADE"), unique=True)
    access_token_enc: Mapped[bytes] = mapped_column(EncryptedText)
    refresh_token_enc: Mapped[bytes | None] = mapped_column(EncryptedText, nullable=True)
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    scope: Mapped[str] = mapped_column(String(500))
    calendar_id: Mapped[str] = mapped_column(String(255), default="primary", server_default="primary")
    connected_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())
    last_synced_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    needs_reconnect: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class GoogleOAuthState(UUIDKey, TenantBase):
    """An authorization in progress: the state's hash, its member, the PKCE verifier (encrypted under ``id``)."""

    __tablename__ = "google_oauth_states"

    state_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    member_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("staff.id", ondelete="CASCADE"))
    verifier_enc: Mapped[bytes] = mapped_column(EncryptedText)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())


class GoogleEventSync(TenantBase):
    """A booking's event in Google: its id, calendar, whether it exists there, attempts, last error."""

    __tablename__ = "google_event_syncs"

    booking_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True)
    therapist_id: Mapped[uuid.UUID] = mapped_column(GUID)
    calendar_id: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str] = mapped_column(String(64))
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    synced_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())
