"""Bodies and answers of the Google Calendar routes (never a token)."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

import msgspec

from anima.request_body import RequestBody


class ConnectionOut(msgspec.Struct):
    """A member's Google connection: the calendar their bookings go to, since when, the last
    successful exchange with Google and the last failure (UTC), and whether Google refused the
    refresh token (``needs_reconnect``: connect again)."""

    therapist_id: uuid.UUID
    display_name: str | None
    calendar_id: str
    connected_at: datetime.datetime
    last_synced_at: datetime.datetime | None
    last_error: str | None
    last_error_at: datetime.datetime | None
    needs_reconnect: bool


class StatusOut(msgspec.Struct):
    """Whether Google Calendar is configured on this server, and the caller's connection (null: none)."""

    configured: bool
    connection: ConnectionOut | None


class AuthorizationOut(msgspec.Struct):
    """Google's consent page to open; it comes back to the callback within ten minutes, once."""

    authorization_url: str


class CalendarChoice(RequestBody):
    """The calendar bookings go to: ``primary`` or a calendar id of the connected account."""

    calendar_id: Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")]


class DisconnectOut(msgspec.Struct):
    """The tokens are deleted; ``revoked``: Google confirmed the revocation (false: Google did not answer)."""

    revoked: bool
