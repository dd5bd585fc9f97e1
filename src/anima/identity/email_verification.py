"""Email verification: a single-use emailed link proves that the address belongs to the person.

Signup (:func:`anima.identity.signup.signup`) sends the first link in its own transaction; the
workspace offers to send another while the address is unverified (:func:`resend`, rate limited by
the caller). Opening a live link (``GET /verify-email/{token}``) sets ``users.email_verified_at``;
a used, replaced or expired link changes nothing. Nothing is blocked while unverified: the
workspace only shows a gentle reminder. An accepted invitation or a password reset also proves the
address (both arrive by email).
"""

from __future__ import annotations

import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from anima.db.base import utcnow
from anima.identity import account_tokens
from anima.identity.account_tokens import Found, Purpose, TokenState
from anima.identity.models import User
from anima.logs import get_logger
from anima.mail import compose
from anima.mail.messages import queue_composed

log = get_logger(__name__)

VERIFY_TTL = datetime.timedelta(days=7)


async def send_verification(session: AsyncSession, user: User, *, public_url: str, log_link: bool = False) -> None:
    """Retire the user's earlier links, issue a new one and queue its email (caller's transaction)."""
    await account_tokens.retire(session, user.id, Purpose.VERIFY_EMAIL)
    token = await account_tokens.issue(session, user.id, Purpose.VERIFY_EMAIL, VERIFY_TTL)
    link = f"{public_url}/verify-email/{token}"
    await queue_composed(
        session, compose.render("verify_email", user.language, name=user.display_name, link=link),
        recipient=user.email, kind="verify-email", development_link=link if log_link else None,
    )


async def verify_email(session: AsyncSession, token: str) -> Found:
    """Spend a verification link; when live, the user's address is verified (caller commits)."""
    found = await account_tokens.spend(session, token, Purpose.VERIFY_EMAIL)
    if found.state is TokenState.LIVE and found.user is not None:
        mark_verified(found.user)
        log.info("email verified", user=str(found.user.id))
    return found


def mark_verified(user: User) -> None:
    """Record that ``user`` proved the address (first time only)."""
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()


async def resend(session: AsyncSession, user: User, *, public_url: str, log_link: bool = False) -> bool:
    """Send a new link unless the address is already verified; returns whether one was sent."""
    if user.email_verified_at is not None:
        return False
    await send_verification(session, user, public_url=public_url, log_link=log_link)
    return True
