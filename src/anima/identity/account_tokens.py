"""Single-use links emailed to a user: issued with an expiry, stored as a hash, spent once.

:func:`issue` makes a random token (256 bits, :func:`anima.identity.tokens.new_opaque_token`) and
stores only its SHA-256 in ``platform.account_tokens`` with its ``purpose`` and expiry.
:func:`spend` finds a live token of a purpose, locks its row and marks it used in the caller's
transaction, so two requests with the same link cannot both succeed. :func:`look_up` reads a
token without spending it (to show a form before it is sent). Email verification
(:mod:`anima.identity.email_verification`) and password reset (:mod:`anima.identity.password_reset`)
build on these.
"""

from __future__ import annotations

import datetime
import enum
import re
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.db.base import utcnow
from anima.identity.models import AccountToken, User
from anima.identity.tokens import hash_token, new_opaque_token

#: the shape of an issued token (``secrets.token_urlsafe(32)``); anything else is not looked up
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


class Purpose(enum.StrEnum):
    VERIFY_EMAIL = "verify-email"
    PASSWORD_RESET = "password-reset"


class TokenState(enum.StrEnum):
    """Why a link can or cannot be used."""

    LIVE = "live"
    USED = "used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Found:
    """A token looked up: its state and, unless unknown, its row and user."""

    state: TokenState
    token: AccountToken | None = None
    user: User | None = None


async def issue(session: AsyncSession, user_id: uuid.UUID, purpose: Purpose, ttl: datetime.timedelta) -> str:
    """A new token of ``purpose`` for ``user_id`` valid for ``ttl`` (flushed); returns the token."""
    token, digest = new_opaque_token()
    now = utcnow()
    session.add(AccountToken(user_id=user_id, purpose=purpose.value, token_hash=digest, created_at=now, expires_at=now + ttl))
    await session.flush()
    return token


async def look_up(session: AsyncSession, token: str, purpose: Purpose, *, lock: bool = False) -> Found:
    """The state of ``token`` for ``purpose`` (with ``lock``, its row is locked until the transaction ends)."""
    if not TOKEN_SHAPE.fullmatch(token):
        return Found(TokenState.UNKNOWN)
    query = (
        sa.select(AccountToken, User)
        .join(User, User.id == AccountToken.user_id)
        .where(AccountToken.token_hash == hash_token(token), AccountToken.purpose == purpose.value)
    )
    if lock:
        query = query.with_for_update(of=AccountToken)
    row = (await session.execute(query)).first()
    if row is None:
        return Found(TokenState.UNKNOWN)
    stored, user = row
    if stored.used_at is not None:
        return Found(TokenState.USED, stored, user)
    if utcnow() >= stored.expires_at:
        return Found(TokenState.EXPIRED, stored, user)
    return Found(TokenState.LIVE, stored, user)


async def spend(session: AsyncSession, token: str, purpose: Purpose) -> Found:
    """Look ``token`` up under a row lock and, when live, mark it used (the caller commits)."""
    found = await look_up(session, token, purpose, lock=True)
    if found.state is TokenState.LIVE and found.token is not None:
        found.token.used_at = utcnow()
        await session.flush()
    return found


async def retire(session: AsyncSession, user_id: uuid.UUID, purpose: Purpose) -> None:
    """Mark every unused token of ``purpose`` of the user as used (a newer link or the deed replaced them)."""
    await session.execute(
        sa.update(AccountToken)
        .where(AccountToken.user_id == user_id, AccountToken.purpose == purpose.value, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
