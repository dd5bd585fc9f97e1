"""Password reset by an emailed, single-use link that expires within an hour.

* :func:`request_reset` — asked with an email address. For an account with that address a new link
  is issued (earlier unused ones are retired) and emailed; for an unknown address nothing happens.
  The caller answers the same in both cases, so the form does not reveal who has an account (the
  rate limits of the caller apply to both alike).
* :func:`check_link` — the state of a link, to show the form only for a live one.
* :func:`reset_password` — under a lock of the link's row: the link must be live, the new password
  passes the signup policy (:func:`anima.identity.signup.validate_password`), then the password is
  replaced, the link spent, every other reset link retired and **every session of the user
  revoked** (:func:`anima.identity.sessions.logout_everywhere`): whoever knew the old password is
  signed out everywhere. The address is verified too (the link arrived by email).
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.identity import account_tokens
from anima.identity.account_tokens import Found, Purpose, TokenState
from anima.identity.email_verification import mark_verified
from anima.identity.models import User
from anima.identity.passwords import hash_password
from anima.identity.sessions import logout_everywhere, normalize_email
from anima.identity.signup import validate_password
from anima.logs import get_logger
from anima.mail import compose
from anima.mail.messages import queue_composed
from anima.problems import Problem

log = get_logger(__name__)

RESET_TTL = datetime.timedelta(hours=1)


class LinkNotUsable(Problem):
    """410: the reset link is unknown, used, replaced or expired (``state`` says which)."""

    status, kind, title = 410, "link-not-usable", "This link can no longer be used"

    def __init__(self, state: TokenState) -> None:
        self.state = state
        super().__init__(f"this password reset link is {state.value}; ask for a new one")


async def request_reset(session: AsyncSession, email: str, *, public_url: str, log_link: bool = False) -> None:
    """Email a reset link to the account of ``email``, if there is one (see the module docstring)."""
    user = (await session.execute(sa.select(User).where(User.email == normalize_email(email)))).scalar_one_or_none()
    if user is None:
        log.info("password reset asked for an unknown address")
        return
    await account_tokens.retire(session, user.id, Purpose.PASSWORD_RESET)
    token = await account_tokens.issue(session, user.id, Purpose.PASSWORD_RESET, RESET_TTL)
    link = f"{public_url}/password/reset/{token}"
    await queue_composed(
        session, compose.render("password_reset", user.language, name=user.display_name, link=link),
        recipient=user.email, kind="password-reset", development_link=link if log_link else None,
    )
    log.info("password reset link sent", user=str(user.id))


async def check_link(session: AsyncSession, token: str) -> Found:
    """The state of a reset link (nothing changes)."""
    return await account_tokens.look_up(session, token, Purpose.PASSWORD_RESET)


async def reset_password(session: AsyncSession, token: str, password: str) -> User:
    """Set a new password through a live link (see the module docstring); the caller commits.

    Raises:
        LinkNotUsable: unknown, used, replaced or expired link (nothing changes).
        InvalidInput: the password breaks the policy (field ``password``; the link stays usable).
    """
    found = await account_tokens.look_up(session, token, Purpose.PASSWORD_RESET, lock=True)
    if found.state is not TokenState.LIVE or found.user is None or found.token is None:
        raise LinkNotUsable(found.state)
    user = found.user
    validate_password(password, user.email)
    user.password_hash = hash_password(password)
    await account_tokens.retire(session, user.id, Purpose.PASSWORD_RESET)  # this link and any other
    mark_verified(user)
    revoked = await logout_everywhere(session, user_id=user.id)
    await session.flush()
    log.info("password reset", user=str(user.id), sessions_revoked=revoked)
    return user
