"""The platform email outbox: messages are written in the transaction that causes them.

Every worker sends what is queued (:mod:`anima.mail.sender`): through ``SMTP_URL`` when it is
set, otherwise into the local mailbox (``ANIMA_DATA_DIR/mailbox``, read at ``/dev/mailbox`` in
development). In development each queued message's link is also logged (the link is the point).
"""

from __future__ import annotations

import datetime

from sqlalchemy import CheckConstraint, Index, String, Text, func, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import PlatformBase, UUIDKey, utcnow
from anima.logs import get_logger
from anima.mail.compose import Composed

log = get_logger(__name__)


#: the states of an outbox email: queued (waiting for its next attempt), sending (claimed by a
#: sender), sent, failed (a permanent refusal; ``last_error`` says why)
EMAIL_STATUSES = ("queued", "sending", "sent", "failed")


class OutboxEmail(UUIDKey, PlatformBase):
    """One email to send: recipient, subject, plain-text ``body`` and ``html_body``, when queued
    and when sent. A message with a ``tenant_id`` is sent in the organization's name
    (:func:`anima.mail.compose.from_header`).

    ``status``, ``attempts``, ``next_attempt_at`` and ``last_error`` are the delivery state kept
    by :mod:`anima.mail.sender` (``last_error`` holds the server's reason, never content).
    """

    __tablename__ = "email_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('queued','sending','sent','failed')", name="status_valid"),
        Index("ix_email_outbox_due", "status", "next_attempt_at", postgresql_where=text("status IN ('queued','sending')")),
    )

    recipient: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[int | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, server_default=func.now())
    sent_at: Mapped[datetime.datetime | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the HTML part (the plain-text part is ``body``); None for a message queued before templates
    html_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: when the current attempt handed the message to the server (committed before the final "."; see
    #: :mod:`anima.mail.sender`): a row still ``sending`` with it after its lease is in doubt
    handed_at: Mapped[datetime.datetime | None] = mapped_column(nullable=True)


async def queue_email(
    session: AsyncSession,
    *,
    recipient: str,
    subject: str,
    body: str,
    kind: str,
    tenant_id: int | None = None,
    development_link: str | None = None,
    html_body: str | None = None,
) -> OutboxEmail:
    """Add an email to the outbox in ``session``'s transaction (flushed, not committed).

    ``development_link`` is logged at info level in development so a developer can follow it.
    Platform emails are transactional: they carry no List-Unsubscribe and ignore opt-outs.
    """
    email = OutboxEmail(recipient=recipient, subject=subject, body=body, kind=kind, tenant_id=tenant_id,
                        html_body=html_body)
    session.add(email)
    await session.flush()
    log.info("email queued", kind=kind, email_id=str(email.id), link=development_link)
    return email


async def queue_composed(
    session: AsyncSession,
    composed: Composed,
    *,
    recipient: str,
    kind: str,
    tenant_id: int | None = None,
    development_link: str | None = None,
) -> OutboxEmail:
    """:func:`queue_email` of a message rendered by :func:`anima.mail.compose.render`."""
    return await queue_email(
        session, recipient=recipient, subject=composed.subject, body=composed.text, html_body=composed.html,
        kind=kind, tenant_id=tenant_id, development_link=development_link,
    )
