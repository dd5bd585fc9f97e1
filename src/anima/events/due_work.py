"""The platform's index of due work: which tenants the relay sweep and the automation tick visit.

``platform.tenant_work`` holds one row per (tenant, kind, writing transaction): ``kind`` is
``relay`` (an outbox event waits to be moved to the queue; due at once), ``tick`` (a delayed
playbook action or a journey-stage timeout falls due at ``due_at``) or ``mail`` (an outbound email
of the tenant is due to be sent or retried at ``due_at``). Periodic passes read only the
due rows, so their cost follows the tenants that have work, not the number of tenants.

Writing and clearing happen **inside the tenant's own transaction**, which runs as the tenant's
role and has no privilege on ``platform``. Two ``SECURITY DEFINER`` functions owned by the admin
role (schema ``work_index``, created by the platform migration ``0004``) are the only way in:

* ``work_index.note(kind, due_at)`` adds a row for **the caller's own tenant**: the tenant is the
  one whose ``db_role`` is the transaction's current role (``current_setting('role')``), never an
  argument, so a tenant cannot mark another tenant's work; a caller not running as a tenant role
  gets ``insufficient_privilege``. Rows are keyed by the writing transaction, so concurrent
  writers of one tenant never wait for each other (no shared row is updated).
* ``work_index.take(kind)`` deletes the caller's own rows of that kind that are due, and returns
  how many. It reveals nothing else; neither function returns another tenant's data, and the
  tenant role still cannot read or write ``platform.tenant_work`` directly.

Clearing is safe against concurrent writers because a pass calls ``take`` **before** it reads the
tenant's work in the same transaction: a row it deleted belongs to a transaction that committed
before that statement, so its work is visible to the reads that follow (read committed takes a
new snapshot per statement); a row committed later stays and is seen by the next pass. A pass that
leaves work behind (a batch limit, rows another worker holds) notes it again before committing.

Passes shared by several workers claim rows with :func:`claim_due` (``FOR UPDATE SKIP LOCKED``
and a lease), on the app role, outside any tenant.
"""

from __future__ import annotations

import datetime
from enum import StrEnum

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import PlatformBase


class WorkKind(StrEnum):
    """What a tenant's due work is: events to relay, or a tick (delays, stage timeouts) to run."""

    RELAY = "relay"
    TICK = "tick"
    #: a tenant's outbound email or SMS is due (:mod:`anima.mail.tenant_sender`)
    MAIL = "mail"


#: the schema holding the two SECURITY DEFINER functions (USAGE granted to PUBLIC; nothing else in it)
FUNCTION_SCHEMA = "work_index"


class TenantWork(PlatformBase):
    """A tenant's due work noted by one transaction: ``kind``, ``due_at`` (UTC) and a claim lease."""

    __tablename__ = "tenant_work"
    __table_args__ = (
        CheckConstraint("kind IN ('relay','tick','mail')", name="kind_valid"),
        Index("uq_tenant_work_tenant_kind_xact", "tenant_id", "kind", "xact", unique=True),
        Index("ix_tenant_work_kind_due", "kind", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("platform.tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    #: the writing transaction (``txid_current()``): one row per transaction, tenant and kind
    xact: Mapped[int] = mapped_column(BigInteger, server_default=sa.text("txid_current()"))
    #: a pass that claimed the row leaves it alone for others until then
    claimed_until: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


_NOTE = sa.text(f"SELECT {FUNCTION_SCHEMA}.note(:kind, :due)")
_NOTE_NOW = sa.text(f"SELECT {FUNCTION_SCHEMA}.note(:kind, now())")
_TAKE = sa.text(f"SELECT {FUNCTION_SCHEMA}.take(:kind)")


async def note_due(session: AsyncSession, kind: WorkKind, due_at: datetime.datetime | None = None) -> None:
    """Record in ``session``'s tenant transaction that the tenant has ``kind`` work due at ``due_at``
    (now when None). Commits or rolls back with the caller's change.

    Raises:
        sqlalchemy.exc.DBAPIError: the transaction is not scoped to a tenant (insufficient_privilege).
    """
    if due_at is None:
        await session.execute(_NOTE_NOW, {"kind": str(kind)})
    else:
        await session.execute(_NOTE, {"kind": str(kind), "due": due_at})


async def take_due(session: AsyncSession, kind: WorkKind) -> int:
    """Delete the entered tenant's due rows of ``kind`` (call before reading its work); returns how many."""
    return int(await session.scalar(_TAKE, {"kind": str(kind)}) or 0)


_CLAIM = sa.text(
    """
    UPDATE platform.tenant_work w SET claimed_until = now() + make_interval(secs => :lease)
    WHERE w.id IN (
        SELECT id FROM platform.tenant_work
        WHERE kind = :kind AND due_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
        ORDER BY due_at LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING w.tenant_id
    """
)


async def claim_due(session: AsyncSession, kind: WorkKind, *, lease: float, limit: int = 10_000) -> list[int]:
    """Claim due rows of ``kind`` for ``lease`` seconds (app role, outside any tenant); returns the
    ids of their tenants, each once, in due order. The caller commits.

    Rows locked or leased by another worker are skipped; a lease that runs out (a worker died)
    makes the rows claimable again. Rows are deleted by the tenant's pass (:func:`take_due`).
    """
    ids = (await session.execute(_CLAIM, {"kind": str(kind), "lease": lease, "limit": limit})).scalars()
    return list(dict.fromkeys(ids))


__all__ = ["FUNCTION_SCHEMA", "TenantWork", "WorkKind", "claim_due", "note_due", "take_due"]
