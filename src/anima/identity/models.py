"""Platform-schema tables of identity: users, memberships, invitations, sessions and refresh tokens.

* A **user** is one person with one email and password; ``is_operator`` marks platform operators.
* A **membership** gives a user one role (OWNER, THERAPIST, ASSISTANT) in one tenant.
* An **auth session** is one login: it has an idle and an absolute expiry and is revoked at
  logout or when a refresh token is reused.
* A **refresh token** belongs to a session; only its SHA-256 is stored. Each one is used once:
  using it again revokes the whole session (reuse detection, RFC 6819 §5.2.2.3; OAuth 2.0
  Security BCP §4.14).
* An **invitation** carries the SHA-256 of a single-use token sent by email.
* An **account token** is a single-use emailed link of one user: email verification or password
  reset (``purpose``); only its SHA-256 is stored, with its expiry and when it was used.
  ``users.email_verified_at`` records the first verification.
"""

from __future__ import annotations

import datetime
import enum
import uuid

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import PlatformBase, Timestamps, UUIDKey, utcnow


class Role(enum.StrEnum):
    """A member's role in an organization (see the README's roles table)."""

    OWNER = "OWNER"
    THERAPIST = "THERAPIST"
    ASSISTANT = "ASSISTANT"


class User(UUIDKey, Timestamps, PlatformBase):
    """A person who can log in. ``email`` is stored lowercased and unique.

    ``language`` and ``time_zone`` are the person's own preferences for pages and emails; unset,
    the organization's (practice settings) apply.
    """

    __tablename__ = "users"
    __table_args__ = (
        Index("uq_users_email", "email", unique=True),
        CheckConstraint("language IN ('en','es','ca','it')", name="language_valid"),
    )

    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(120))
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    #: the person's own page language (en, es, ca, it) and IANA time zone; None: the organization's
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_login_at: Mapped[datetime.datetime | None] = mapped_column(nullable=True)
    #: when the person proved the email is theirs (an emailed link or an accepted invitation); None: not yet
    email_verified_at: Mapped[datetime.datetime | None] = mapped_column(nullable=True)


class Membership(UUIDKey, Timestamps, PlatformBase):
    """A user's role in one tenant."""

    __tablename__ = "memberships"
    __table_args__ = (
        Index("uq_memberships_tenant_user", "tenant_id", "user_id", unique=True),
        CheckConstraint("role IN ('OWNER','THERAPIST','ASSISTANT')", name="role_valid"),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("platform.tenants.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("platform.users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))


class Invitation(UUIDKey, PlatformBase):
    """An invitation to join a tenant with a role; ``token_hash`` is the SHA-256 of the emailed token."""

    __tablename__ = "invitations"
    __table_args__ = (
        Index("uq_invitations_token_hash", "token_hash", unique=True),
        CheckConstraint("role IN ('OWNER','THERAPIST','ASSISTANT')", name="role_valid"),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("platform.tenants.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64))
    invited_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("platform.users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime.datetime] = mapped_column()
    accepted_at: Mapped[datetime.datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(nullable=True)


class AuthSession(UUIDKey, PlatformBase):
    """One login. Valid while not revoked, before ``expires_at`` (absolute) and ``idle_expires_at``."""

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("platform.users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, server_default=func.now())
    last_used_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, server_default=func.now())
    idle_expires_at: Mapped[datetime.datetime] = mapped_column()
    expires_at: Mapped[datetime.datetime] = mapped_column()
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)


class RefreshToken(UUIDKey, PlatformBase):
    """A single-use refresh token of a session; ``token_hash`` is its SHA-256 (hex)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("uq_refresh_tokens_hash", "token_hash", unique=True),)

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platform.auth_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, server_default=func.now())
    used_at: Mapped[datetime.datetime | None] = mapped_column(nullable=True)


class RateLimitCounter(PlatformBase):
    """A fixed-window counter: ``hits`` in the window starting ``window_start`` for ``key``."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime.datetime] = mapped_column(primary_key=True)
    hits: Mapped[int] = mapped_column(default=0)


class AccountToken(UUIDKey, PlatformBase):
    """A single-use link emailed to a user (``purpose``: verify-email, password-reset).

    ``token_hash`` is the SHA-256 of the token in the link; the token itself is never stored.
    """

    __tablename__ = "account_tokens"
    __table_args__ = (
        Index("uq_account_tokens_hash", "token_hash", unique=True),
        CheckConstraint("purpose IN ('verify-email','password-reset')", name="purpose_valid"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("platform.users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime.datetime] = mapped_column()
    used_at: Mapped[datetime.datetime | None] = mapped_column(nullable=True)
