"""Login, refresh with rotation and reuse detection, logout and the caller's profile.

Sessions have an idle timeout (30 minutes without a refresh) and an absolute timeout (12 hours),
as ASVS 4.0 §3.3 asks for level 2. Wrong email and wrong password give the same 401 and take the
same time (a dummy argon2 verification when the user does not exist).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.db.base import utcnow
from anima.problems import Unauthorized
from anima.identity.models import AuthSession, Membership, RefreshToken, User
from anima.identity.passwords import hash_password, needs_rehash, verify_password
from anima.identity.schemas import MeResponse, MembershipOut, TokenPair
from anima.identity.tokens import (
    ACCESS_TTL,
    REFRESH_IDLE_TTL,
    SESSION_ABSOLUTE_TTL,
    hash_token,
    issue_access_token,
    new_opaque_token,
)
from anima.logs import get_logger
from anima.tenancy.models import Tenant

log = get_logger(__name__)

BAD_CREDENTIALS = "email or password is incorrect"


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def start_session(
    session: AsyncSession,
    user: User,
    *,
    secret: str,
    client_address: str | None,
    user_agent: str | None,
) -> TokenPair:
    """Open an auth session for ``user`` and return its first token pair (flushed, not committed)."""
    now = utcnow()
    auth = AuthSession(
        id=uuid.uuid4(),
        user_id=user.id,
        created_at=now,
        last_used_at=now,
        idle_expires_at=now + REFRESH_IDLE_TTL,
        expires_at=now + SESSION_ABSOLUTE_TTL,
        client_address=(client_address or "")[:64] or None,
        user_agent=(user_agent or "")[:255] or None,
    )
    session.add(auth)
    return await _issue_pair(session, auth, user, secret=secret, now=now)


async def _issue_pair(
    session: AsyncSession, auth: AuthSession, user: User, *, secret: str, now: datetime.datetime
) -> TokenPair:
    """A new single-use refresh token of ``auth`` (flushed) and a fresh access token."""
    refresh_token, digest = new_opaque_token()
    session.add(RefreshToken(session_id=auth.id, token_hash=digest, created_at=now))
    await session.flush()
    access, _ = issue_access_token(secret, user_id=user.id, session_id=auth.id, is_operator=user.is_operator, now=now)
    return TokenPair(
        access_token=access,
        refresh_token=refresh_token,
        token_type="Bearer",
        expires_in=int(ACCESS_TTL.total_seconds()),
        session_expires_at=auth.expires_at,
    )


async def login(
    session: AsyncSession, *, email: str, password: str, secret: str, client_address: str | None, user_agent: str | None
) -> TokenPair:
    """Verify the credentials and open a session. Raises Unauthorized (401) with one message for all failures."""
    user = (await session.execute(sa.select(User).where(User.email == normalize_email(email)))).scalar_one_or_none()
    if not verify_password(user.password_hash if user else None, password) or user is None:
        log.info("login failed")
        raise Unauthorized(BAD_CREDENTIALS)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    pair = await start_session(session, user, secret=secret, client_address=client_address, user_agent=user_agent)
    log.info("login", user=str(user.id))
    return pair


@dataclass(frozen=True)
class RefreshedConcurrently:
    """A refresh token presented again within the browser's grace period of its first use.

    A browser sends its requests in parallel; when the access cookie has just expired, two of
    them may carry the same refresh token. The first rotates it; the others get this instead of
    a revoked session: the session is live and they may be served with a new access token for it,
    but no new refresh token (the first response already set it).
    """

    user_id: uuid.UUID
    session_id: uuid.UUID
    is_operator: bool


async def refresh(
    session: AsyncSession, *, token: str, secret: str, reuse_grace: datetime.timedelta | None = None
) -> TokenPair | RefreshedConcurrently:
    """Rotate a refresh token. A token used twice revokes its whole session (committed) and fails.

    Args:
        reuse_grace: browsers only (:mod:`anima.web.browser_session`): a token used again within
            this time of its first use, on a live session, gives :class:`RefreshedConcurrently`
            instead of revoking the session. The API passes None: every reuse revokes.

    Raises:
        Unauthorized: unknown, reused, idle-expired, expired or revoked.
    """
    digest = hash_token(token)
    row = (
        await session.execute(
            sa.select(RefreshToken, AuthSession)
            .join(AuthSession, AuthSession.id == RefreshToken.session_id)
            .where(RefreshToken.token_hash == digest)
            .with_for_update(of=AuthSession)
        )
    ).first()
    if row is None:
        raise Unauthorized("the refresh token is not valid")
    stored, auth = row
    now = utcnow()
    if stored.used_at is not None:
        live = auth.revoked_at is None and now < auth.expires_at and now < auth.idle_expires_at
        if reuse_grace is not None and live and now - stored.used_at <= reuse_grace:
            user = await session.get(User, auth.user_id)
            if user is not None:
                return RefreshedConcurrently(user.id, auth.id, user.is_operator)
        if auth.revoked_at is None:
            auth.revoked_at, auth.revoke_reason = now, "refresh-reuse"
            await session.commit()
            log.warning("refresh token reuse detected; session revoked", session_id=str(auth.id))
        raise Unauthorized("the refresh token was already used; the session has been ended for safety")
    if auth.revoked_at is not None:
        raise Unauthorized("the session has ended")
    if now >= auth.expires_at:
        raise Unauthorized("the session has expired; log in again")
    if now >= auth.idle_expires_at:
        auth.revoked_at, auth.revoke_reason = now, "idle-timeout"
        await session.commit()
        raise Unauthorized("the session expired after inactivity; log in again")
    user = await session.get(User, auth.user_id)
    if user is None:  # pragma: no cover - cascades delete sessions with users
        raise Unauthorized("the session has ended")
    stored.used_at = now
    auth.last_used_at = now
    auth.idle_expires_at = min(now + REFRESH_IDLE_TTL, auth.expires_at)
    return await _issue_pair(session, auth, user, secret=secret, now=now)


async def logout(session: AsyncSession, *, session_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Revoke the auth session (idempotent): its access and refresh tokens stop working at once."""
    await session.execute(
        sa.update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoke_reason="logout")
    )


async def logout_everywhere(session: AsyncSession, *, user_id: uuid.UUID) -> int:
    """Revoke every live auth session of ``user_id`` (every browser and API client); returns how many."""
    result = await session.execute(
        sa.update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoke_reason="logout-everywhere")
    )
    return result.rowcount or 0


async def live_user(session: AsyncSession, *, user_id: uuid.UUID, session_id: uuid.UUID) -> User:
    """The user of a live auth session; Unauthorized when the session ended."""
    now = datetime.datetime.now(datetime.UTC)
    row = (
        await session.execute(
            sa.select(User)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(
                AuthSession.id == session_id,
                User.id == user_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise Unauthorized("the session has ended")
    return row


async def memberships_of(session: AsyncSession, user_id: uuid.UUID) -> list[MembershipOut]:
    rows = (
        await session.execute(
            sa.select(Tenant.slug, Tenant.name, Membership.role, Tenant.tier, Tenant.state)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(Membership.user_id == user_id)
            .order_by(Tenant.slug)
        )
    ).all()
    return [MembershipOut(r.slug, r.name, r.role, r.tier, r.state) for r in rows]


async def me(session: AsyncSession, *, user_id: uuid.UUID, session_id: uuid.UUID) -> MeResponse:
    user = await live_user(session, user_id=user_id, session_id=session_id)
    return MeResponse(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        is_operator=user.is_operator,
        memberships=await memberships_of(session, user.id),
    )
