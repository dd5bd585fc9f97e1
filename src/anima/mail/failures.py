"""Undelivered messages, for operators: what failed for good, where, why — never to whom or what.

``platform.mail_failures`` gets one row when a message becomes ``failed`` (a permanent refusal, or
the last transient attempt): the platform's emails (:mod:`anima.mail.sender`, in the same
transaction) and the organizations' emails and SMS (:mod:`anima.mail.tenant_sender`, right after
the tenant's own row is marked). It holds the message's id, the organization (None for the
platform's own), the channel, the kind or template, the server's reason and the attempts — so
the operator console counts and lists them without entering any tenant, and without an address
or a word of content.

:func:`retry` puts one failed message back in its queue, due now with its attempts reset (a
platform email in ``email_outbox``; an organization's email or SMS inside its tenant, entered
through :func:`anima.jobs.runner.tenant_transaction`, its mail work noted due), and marks the
failure retried. The ``anima mail retry`` command and ``POST /api/v1/operator/mail-failures/{id}/retry``
call it.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import PlatformBase, utcnow
from anima.events.due_work import WorkKind, note_due
from anima.problems import NotFound


class MailFailure(PlatformBase):
    """A message that failed for good: id, organization, channel, kind, reason, attempts, when;
    ``retried_at`` once an operator put it back in its queue."""

    __tablename__ = "mail_failures"
    __table_args__ = (
        CheckConstraint("channel IN ('email','sms')", name="channel_valid"),
        Index("ix_mail_failures_open", "failed_at", postgresql_where=sa.text("retried_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("platform.tenants.id", ondelete="CASCADE"), nullable=True)
    channel: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    failed_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())
    retried_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


_RECORD = sa.text(
    """
    INSERT INTO platform.mail_failures (id, tenant_id, channel, kind, reason, attempts, failed_at)
    VALUES (:id, :tenant_id, :channel, :kind, :reason, :attempts, now())
    ON CONFLICT (id) DO UPDATE SET reason = EXCLUDED.reason, attempts = EXCLUDED.attempts,
        failed_at = EXCLUDED.failed_at, retried_at = NULL
    """
)


async def record_failure(session: AsyncSession, *, message_id: uuid.UUID, tenant_id: int | None, channel: str, kind: str,
                         reason: str, attempts: int) -> None:
    """Record (or renew, after a retry failed again) the failure of one message, in ``session``'s
    platform transaction (the caller commits)."""
    await session.execute(_RECORD, {"id": message_id, "tenant_id": tenant_id, "channel": channel, "kind": kind[:60],
                                    "reason": reason[:500], "attempts": attempts})


@dataclass(frozen=True)
class FailureCounts:
    """Open failures (not retried): the platform's own emails, and the organizations' messages."""

    platform: int
    organizations: int


async def counts(session: AsyncSession) -> FailureCounts:
    """How many failures wait for an operator (one query)."""
    row = (await session.execute(sa.select(
        sa.func.count().filter(MailFailure.tenant_id.is_(None)), sa.func.count().filter(MailFailure.tenant_id.is_not(None)),
    ).where(MailFailure.retried_at.is_(None)))).one()
    return FailureCounts(int(row[0]), int(row[1]))


async def open_failures(session: AsyncSession, *, limit: int, offset: int) -> tuple[list[MailFailure], int]:
    """Open failures newest first, and their total."""
    where = MailFailure.retried_at.is_(None)
    total = (await session.execute(sa.select(sa.func.count()).select_from(MailFailure).where(where))).scalar_one()
    rows = (await session.execute(
        sa.select(MailFailure).where(where).order_by(MailFailure.failed_at.desc(), MailFailure.id).limit(limit).offset(offset)
    )).scalars()
    return list(rows), int(total)


_REQUEUE_PLATFORM = sa.text(
    "UPDATE platform.email_outbox SET status = 'queued', attempts = 0, next_attempt_at = now(), handed_at = NULL "
    "WHERE id = :id AND status = 'failed'"
)
_REQUEUE = {
    "email": sa.text("UPDATE outbound_emails SET status = 'queued', attempts = 0, next_attempt_at = now(), handed_at = NULL "
                     "WHERE id = :id AND status = 'failed'"),
    "sms": sa.text("UPDATE outbound_sms SET status = 'queued', attempts = 0, next_attempt_at = now() "
                   "WHERE id = :id AND status = 'failed'"),
}


async def retry(runtime: object, failure_id: uuid.UUID) -> MailFailure:
    """Put the failed message ``failure_id`` back in its queue, due now (see the module docstring).

    ``runtime`` is the process's :class:`~anima.runtime.Runtime`. Raises NotFound when no open
    failure has that id, or its message is gone or no longer failed (nothing changes then).
    """
    from anima.jobs.runner import tenant_transaction  # the jobs layer: imported where it is used

    async with runtime.sessionmaker() as session:  # type: ignore[attr-defined]
        async with session.begin():
            failure = (await session.execute(
                sa.select(MailFailure).where(MailFailure.id == failure_id, MailFailure.retried_at.is_(None)).with_for_update()
            )).scalar_one_or_none()
            if failure is None:
                raise NotFound("no open failure with this id")
            if failure.tenant_id is None:
                changed = (await session.execute(_REQUEUE_PLATFORM, {"id": failure_id})).rowcount
            else:
                async with tenant_transaction(runtime, failure.tenant_id) as job:  # type: ignore[arg-type]
                    changed = (await job.session.execute(_REQUEUE[failure.channel], {"id": failure_id})).rowcount
                    if changed:
                        await note_due(job.session, WorkKind.MAIL)
            if not changed:
                raise NotFound("the message is gone or no longer failed")
            failure.retried_at = datetime.datetime.now(datetime.UTC)
    return failure


__all__ = ["FailureCounts", "MailFailure", "counts", "open_failures", "record_failure", "retry"]
