"""The credit ledger: every movement of a sale's credits, and the one way each is written.

A sale's balance is ``SUM(delta)`` of its entries (:func:`balance`). Every writer first locks the
sales it may touch (``SELECT … FOR UPDATE``, in id order so two writers never deadlock), then reads
the balance and writes: concurrent uses of the last credits queue on the row lock and the later
ones see the earlier ones' entries, so a balance is never negative under any concurrency (a CHECK
cannot say that of a sum; the lock does, and the property test shows it).

Each entry has a unique ``idempotency_key`` derived from what caused it — ``use:{booking_id}``
(a booking, or a no-show, consumes at most one credit), ``return:{booking_id}``,
``purchase:{sale_id}``, ``expiry:{sale_id}:{n}``, ``adjust:{request key}`` — so a replayed
operation finds its entry and changes nothing.

Functions for the booking engine: :func:`use_credit` (at booking, or at a no-show when the
policy charges one) and :func:`return_credit` (on a timely cancellation).
"""

from __future__ import annotations

import datetime
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.packages.models import CreditEntry, PackageSale, package_services
from anima.problems import Conflict, InvalidInput


async def balance(session: AsyncSession, sale_id: uuid.UUID) -> int:
    """The sale's credits left: the sum of its entries."""
    return int(await session.scalar(sa.select(sa.func.coalesce(sa.func.sum(CreditEntry.delta), 0)).where(CreditEntry.sale_id == sale_id)))


async def patient_balance(session: AsyncSession, patient_id: uuid.UUID, *, at: datetime.datetime | None = None) -> int:
    """Credits a patient can still use: the sum over ACTIVE, unexpired sales."""
    now = at or datetime.datetime.now(datetime.UTC)
    return int(await session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(CreditEntry.delta), 0))
        .join(PackageSale, PackageSale.id == CreditEntry.sale_id)
        .where(PackageSale.patient_id == patient_id, PackageSale.status == "ACTIVE", PackageSale.expires_at > now)
    ))


async def _existing(session: AsyncSession, key: str) -> CreditEntry | None:
    return (await session.execute(sa.select(CreditEntry).where(CreditEntry.idempotency_key == key))).scalar_one_or_none()


async def _append(
    session: AsyncSession, sale: PackageSale, kind: str, delta: int, key: str, *, booking_id: uuid.UUID | None = None,
    reason: str = "", actor_id: uuid.UUID | None = None,
) -> CreditEntry:
    entry = CreditEntry(
        id=uuid.uuid4(), sale_id=sale.id, patient_id=sale.patient_id, kind=kind, delta=delta, booking_id=booking_id,
        reason=reason, idempotency_key=key, actor_id=actor_id,
    )
    session.add(entry)
    await session.flush()
    return entry


async def lock_sale(session: AsyncSession, sale_id: uuid.UUID) -> PackageSale | None:
    """The sale, row-locked for the rest of the transaction (None if absent)."""
    return (await session.execute(sa.select(PackageSale).where(PackageSale.id == sale_id).with_for_update())).scalar_one_or_none()


async def record_purchase(session: AsyncSession, sale: PackageSale, *, actor_id: uuid.UUID | None = None) -> CreditEntry:
    """The sale's ``purchase`` entry (+sessions); once per sale."""
    key = f"purchase:{sale.id}"
    return await _existing(session, key) or await _append(session, sale, "purchase", sale.sessions, key, actor_id=actor_id)


async def use_credit(
    session: AsyncSession, *, patient_id: uuid.UUID, service_id: uuid.UUID | None, booking_id: uuid.UUID,
    no_show: bool = False, actor_id: uuid.UUID | None = None, at: datetime.datetime | None = None,
) -> CreditEntry | None:
    """Use one credit of the patient for ``booking_id``; None when no sale can cover it.

    The sale used is the ACTIVE, unexpired one covering ``service_id`` (a package without services
    covers all) with credits left and the nearest expiry. ``no_show`` records the use as a no-show
    (when the cancellation policy charges one). At most one use per booking: a repeated call
    returns the first entry. What to do at zero credits (ask for payment, refuse) is the caller's
    policy.
    """
    key = f"use:{booking_id}"
    now = at or datetime.datetime.now(datetime.UTC)
    covered = sa.or_(
        ~sa.exists().where(package_services.c.package_id == PackageSale.package_id),
        sa.exists().where(package_services.c.package_id == PackageSale.package_id, package_services.c.service_id == service_id)
        if service_id is not None else sa.false(),
    )
    sales = list((await session.execute(
        sa.select(PackageSale)
        .where(PackageSale.patient_id == patient_id, PackageSale.status == "ACTIVE", PackageSale.expires_at > now, covered)
        .order_by(PackageSale.id).with_for_update()
    )).scalars())
    found = await _existing(session, key)
    if found is not None:
        return found
    for sale in sorted(sales, key=lambda s: (s.expires_at, s.id)):
        if await balance(session, sale.id) > 0:
            return await _append(session, sale, "no_show" if no_show else "use", -1, key, booking_id=booking_id, actor_id=actor_id)
    return None


async def return_credit(session: AsyncSession, *, booking_id: uuid.UUID, actor_id: uuid.UUID | None = None) -> CreditEntry | None:
    """Give back the credit ``booking_id`` used (a timely cancellation); None if it used none.

    Once per booking: a repeated call returns the first return entry. A no-show's credit is not
    returned (returns None).
    """
    used = await _existing(session, f"use:{booking_id}")
    if used is None or used.kind != "use":
        return None
    sale = await lock_sale(session, used.sale_id)
    if sale is None:
        return None
    key = f"return:{booking_id}"
    return await _existing(session, key) or await _append(session, sale, "return", 1, key, booking_id=booking_id, actor_id=actor_id)


async def adjust(
    session: AsyncSession, sale_id: uuid.UUID, *, delta: int, reason: str, key: str, actor_id: uuid.UUID | None,
) -> CreditEntry:
    """A manual correction with its reason. Raises InvalidInput (delta 0, or a balance going below
    zero: field ``delta``), NotFound via the caller's lookup."""
    if delta == 0:
        raise InvalidInput.field("delta", "nonzero", "an adjustment changes the balance")
    sale = await lock_sale(session, sale_id)
    if sale is None:
        raise Conflict("the sale is gone")
    found = await _existing(session, f"adjust:{key}")
    if found is not None:
        return found
    left = await balance(session, sale.id)
    if left + delta < 0:
        raise InvalidInput.field("delta", "balance", f"only {left} credits are left; the balance never goes below zero")
    return await _append(session, sale, "adjustment", delta, f"adjust:{key}", reason=reason, actor_id=actor_id)


async def expire_due(session: AsyncSession, *, at: datetime.datetime | None = None, limit: int = 500) -> int:
    """Expire what is left of every sale past its expiry (one ``expiry`` entry each); returns how
    many sales were expired. Safe to run again: an expired sale's balance is zero."""
    now = at or datetime.datetime.now(datetime.UTC)
    ids = list((await session.execute(
        sa.select(PackageSale.id).where(PackageSale.status == "ACTIVE", PackageSale.expires_at <= now)
        .where(sa.select(sa.func.coalesce(sa.func.sum(CreditEntry.delta), 0)).where(CreditEntry.sale_id == PackageSale.id)
               .scalar_subquery() > 0)
        .order_by(PackageSale.id).limit(limit)
    )).scalars())
    done = 0
    for sale_id in ids:
        sale = await lock_sale(session, sale_id)
        left = await balance(session, sale_id) if sale is not None else 0
        if sale is None or left <= 0:
            continue
        entries = await session.scalar(sa.select(sa.func.count()).select_from(CreditEntry).where(CreditEntry.sale_id == sale_id))
        await _append(session, sale, "expiry", -left, f"expiry:{sale_id}:{entries}", reason="validity ended")
        done += 1
    return done


async def append_refund(
    session: AsyncSession, sale: PackageSale, unused: int, key: str, *, reason: str, actor_id: uuid.UUID | None,
) -> CreditEntry:
    """The ``refund`` entry taking ``unused`` credits off a sale the caller has locked."""
    return await _existing(session, key) or await _append(session, sale, "refund", -unused, key, reason=reason, actor_id=actor_id)
