"""Connecting, reading and disconnecting a therapist's Google Calendar (service functions).

**Who.** Only the therapist (or an owner who sees patients) connects and disconnects *their own*
account: every function takes the caller's user id and never another member's. Owners list who is
connected (:func:`connections`), never the tokens.

**The flow.** :func:`start` makes a random ``state`` (``<org slug>.<token>``: the fixed callback
finds the organization from it) and a PKCE ``code_verifier``; it stores the state's SHA-256 bound
to the member with the verifier encrypted, and returns Google's consent URL carrying the S256
challenge. :func:`finish` consumes the state (one ``DELETE … RETURNING`` matching the hash *and*
the member: a state works once, only for the member who started it, within
:data:`STATE_TTL`), trades the code and verifier for tokens and stores them encrypted.

**Tokens.** :func:`access_token` refreshes an access token that expires within a minute and
stores the new one; a refused refresh token marks the connection ``needs_reconnect``.
:func:`disconnect` revokes the refresh token at Google (RFC 7009) and deletes the row whatever
Google answered (the answer is reported).

Raises :class:`~anima.problems.Conflict` ``google-calendar-off`` when ``GOOGLE_CLIENT_ID`` /
``GOOGLE_CLIENT_SECRET`` are unset.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.config import Settings
from anima.crypto.cipher import FieldCipher
from anima.domains.gcal import google
from anima.domains.gcal.cache import forget
from anima.domains.gcal.models import GoogleConnection, GoogleOAuthState
from anima.domains.gcal.schemas import ConnectionOut, StatusOut
from anima.domains.staff.models import StaffMember
from anima.logs import get_logger
from anima.problems import Conflict, InvalidInput, NotFound

log = get_logger(__name__)

#: how long a started authorization may wait for its callback
STATE_TTL = datetime.timedelta(minutes=10)
#: the path of the callback Google redirects to (one for the deployment: register it at Google)
CALLBACK_PATH = "/google-calendar/callback"
CONNECTIONS = "google_calendar_connections"
STATES = "google_oauth_states"


def utcnow() -> datetime.datetime:
    """The present, aware (UTC)."""
    return datetime.datetime.now(datetime.UTC)


def require_configured(settings: Settings) -> None:
    """Raise Conflict (``google-calendar-off``) unless Google Calendar is configured."""
    if not settings.google_configured:
        raise Conflict("Google Calendar is not configured on this server (GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET)",
                       extra={"reason": "google-calendar-off"})


def redirect_uri(public_url: str) -> str:
    """The callback URL registered at Google: ``ANIMA_PUBLIC_URL`` + :data:`CALLBACK_PATH`."""
    return public_url.rstrip("/") + CALLBACK_PATH


def state_hash(state: str) -> bytes:
    """SHA-256 of a state (what is stored)."""
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).digest()


async def start(session: AsyncSession, cipher: FieldCipher, settings: Settings, *, user_id: uuid.UUID, org_slug: str,
                public_url: str, now: datetime.datetime | None = None) -> str:
    """Begin connecting the caller's Google account; returns Google's consent URL.

    Raises Conflict (google-calendar-off)."""
    require_configured(settings)
    now = now or utcnow()
    await session.execute(sa.delete(GoogleOAuthState).where(GoogleOAuthState.created_at < now - STATE_TTL))
    state = f"{org_slug}.{secrets.token_urlsafe(32)}"
    verifier = secrets.token_urlsafe(64)  # 86 characters of the RFC 7636 alphabet
    row_id = uuid.uuid4()
    session.add(GoogleOAuthState(id=row_id, state_hash=state_hash(state), member_id=user_id, created_at=now,
                                 verifier_enc=await cipher.encrypt_text(STATES, "verifier_enc", row_id, verifier)))
    await session.flush()
    return google.authorization_url(settings, redirect_uri(public_url), state, verifier)


async def _store(session: AsyncSession, cipher: FieldCipher, conn: GoogleConnection, tokens: google.Tokens) -> None:
    conn.access_token_enc = await cipher.encrypt_text(CONNECTIONS, "access_token_enc", conn.id, tokens.access_token)
    if tokens.refresh_token:
        conn.refresh_token_enc = await cipher.encrypt_text(CONNECTIONS, "refresh_token_enc", conn.id, tokens.refresh_token)
    conn.expires_at = tokens.expires_at
    if tokens.scope:
        conn.scope = tokens.scope[:500]


async def finish(session: AsyncSession, cipher: FieldCipher, settings: Settings, *, tenant_id: int, user_id: uuid.UUID,
                 state: str | None, code: str | None, public_url: str, now: datetime.datetime | None = None) -> GoogleConnection:
    """Complete the authorization Google redirected back with.

    Raises:
        InvalidInput: ``state`` missing, unknown, used, another member's or expired; ``code``
            missing or refused by Google.
        Conflict: google-calendar-off.
    """
    require_configured(settings)
    now = now or utcnow()
    if not state or len(state) > 200:
        raise InvalidInput.field("state", "required", "the authorization has no valid state")
    found = (await session.execute(
        sa.delete(GoogleOAuthState).where(GoogleOAuthState.state_hash == state_hash(state), GoogleOAuthState.member_id == user_id)
        .returning(GoogleOAuthState.id, GoogleOAuthState.verifier_enc, GoogleOAuthState.created_at))).first()
    if found is None or found.created_at < now - STATE_TTL:
        raise InvalidInput.field("state", "unknown", "this authorization is unknown, already used, someone else's or expired; start again")
    if not code or len(code) > 2000:
        raise InvalidInput.field("code", "required", "Google sent no authorization code (consent refused?); start again")
    verifier = await cipher.decrypt_text(STATES, "verifier_enc", found.id, found.verifier_enc)
    try:
        tokens = await google.exchange_code(settings, redirect_uri(public_url), code, verifier, now)
    except google.GoogleError as exc:
        log.warning("google code exchange failed", error=str(exc))
        raise InvalidInput.field("code", "google-refused", "Google did not accept this authorization; start again") from None
    conn = await connection(session, user_id)
    if conn is None:
        if not tokens.refresh_token:
            raise InvalidInput.field("code", "offline-access", "Google issued no refresh token; start again and accept the consent")
        conn = GoogleConnection(id=uuid.uuid4(), therapist_id=user_id, calendar_id="primary", connected_at=now, scope="")
        session.add(conn)
    await _store(session, cipher, conn, tokens)
    conn.needs_reconnect, conn.last_error, conn.last_error_at, conn.connected_at = False, None, None, now
    await session.flush()
    forget(tenant_id, user_id)
    return conn


async def access_token(session: AsyncSession, cipher: FieldCipher, settings: Settings, conn: GoogleConnection,
                       now: datetime.datetime | None = None) -> str:
    """A live access token of ``conn``, refreshed (and stored) when it expires within a minute.

    Raises google.GoogleRevoked (marks ``needs_reconnect``) or google.GoogleError."""
    now = now or utcnow()
    if conn.needs_reconnect:
        raise google.GoogleRevoked()
    if conn.expires_at > now + datetime.timedelta(minutes=1):
        return await cipher.decrypt_text(CONNECTIONS, "access_token_enc", conn.id, conn.access_token_enc)
    if conn.refresh_token_enc is None:
        conn.needs_reconnect = True
        raise google.GoogleRevoked()
    refresh_token = await cipher.decrypt_text(CONNECTIONS, "refresh_token_enc", conn.id, conn.refresh_token_enc)
    try:
        tokens = await google.refresh(settings, refresh_token, now)
    except google.GoogleRevoked as exc:
        conn.needs_reconnect = True
        note_error(conn, str(exc), now)
        raise
    await _store(session, cipher, conn, tokens)
    return tokens.access_token


def note_error(conn: GoogleConnection, message: str, now: datetime.datetime | None = None) -> None:
    """Record the last failure on the connection (a short sentence, never a token)."""
    conn.last_error, conn.last_error_at = message[:500], now or utcnow()


def note_success(conn: GoogleConnection, now: datetime.datetime | None = None) -> None:
    """Record a successful exchange with Google (clears the last error)."""
    conn.last_synced_at, conn.last_error, conn.last_error_at = now or utcnow(), None, None


async def connection(session: AsyncSession, therapist_id: uuid.UUID) -> GoogleConnection | None:
    """The therapist's connection, if any."""
    return (await session.execute(sa.select(GoogleConnection).where(GoogleConnection.therapist_id == therapist_id))).scalar_one_or_none()


def _out(conn: GoogleConnection, name: str | None = None) -> ConnectionOut:
    return ConnectionOut(conn.therapist_id, name, conn.calendar_id, conn.connected_at, conn.last_synced_at, conn.last_error,
                         conn.last_error_at, conn.needs_reconnect)


async def status(session: AsyncSession, settings: Settings, user_id: uuid.UUID) -> StatusOut:
    """Whether Google Calendar is configured and the caller's connection (no token)."""
    conn = await connection(session, user_id)
    return StatusOut(settings.google_configured, _out(conn) if conn else None)


async def connections(session: AsyncSession) -> list[ConnectionOut]:
    """Every connected member with their name (owners' view; no token)."""
    rows = await session.execute(sa.select(GoogleConnection, StaffMember.display_name)
                                 .join(StaffMember, StaffMember.id == GoogleConnection.therapist_id).order_by(StaffMember.display_name))
    return [_out(conn, name) for conn, name in rows]


async def choose_calendar(session: AsyncSession, tenant_id: int, user_id: uuid.UUID, calendar_id: str) -> ConnectionOut:
    """Set the calendar the caller's bookings go to (``primary`` or a calendar id). Raises NotFound."""
    conn = await connection(session, user_id)
    if conn is None:
        raise NotFound("no Google account is connected")
    conn.calendar_id = calendar_id
    await session.flush()
    forget(tenant_id, user_id)
    return _out(conn)


async def disconnect(session: AsyncSession, cipher: FieldCipher, settings: Settings, *, tenant_id: int, user_id: uuid.UUID) -> bool:
    """Revoke the caller's tokens at Google and delete them; returns whether Google confirmed the
    revocation (the row is deleted either way). Raises NotFound."""
    conn = await connection(session, user_id)
    if conn is None:
        raise NotFound("no Google account is connected")
    revoked = False
    if settings.google_configured:
        blob, column = (conn.refresh_token_enc, "refresh_token_enc") if conn.refresh_token_enc else (conn.access_token_enc, "access_token_enc")
        token = await cipher.decrypt_text(CONNECTIONS, column, conn.id, blob)
        try:
            await google.revoke(settings, token)
            revoked = True
        except google.GoogleError as exc:
            log.warning("google revocation failed", error=str(exc))
    await session.delete(conn)
    await session.execute(sa.delete(GoogleOAuthState).where(GoogleOAuthState.member_id == user_id))
    await session.flush()
    forget(tenant_id, user_id)
    return revoked
