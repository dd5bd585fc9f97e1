"""The platform email outbox: messages are written in the transaction that causes them.

With no SMTP configured the outbox is where mail stays (operators and tests read it); in
development each message is also logged, without its token-bearing body being redacted from the
developer (the link is the point). Sending through SMTP comes with the events relay.
"""

from __future__ import annotations

import datetime

from sqlalchemy import String, Text, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import PlatformBase, UUIDKey, utcnow
from anima.logs import get_logger

log = get_logger(__name__)


class OutboxEmail(UUIDKey, PlatformBase):
    """One email to send: recipient, subject, plain-text body, when queued and when sent."""

    __tablename__ = "email_outbox"

    recipient: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[int | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, server_default=func.now())
    sent_at: Mapped[datetime.datetime | None] = mapped_column(nullable=True)


async def queue_email(
    session: AsyncSession,
    *,
    recipient: str,
    subject: str,
    body: str,
    kind: str,
    tenant_id: int | None = None,
    development_link: str | None = None,
) -> OutboxEmail:
    """Add an email to the outbox in ``session``'s transaction (flushed, not committed).

    ``development_link`` is logged at info level in development so a developer can follow it.
    """
    email = OutboxEmail(recipient=recipient, subject=subject, body=body, kind=kind, tenant_id=tenant_id)
    session.add(email)
    await session.flush()
    log.info("email queued", kind=kind, email_id=str(email.id), link=development_link)
    return email
