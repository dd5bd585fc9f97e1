"""Enforcing plan limits race-safely in the domain service that creates the counted thing.

Usage, inside a tenant-scoped transaction, before inserting::

    await ensure_within_limit(session, tenant_id=..., tier=..., limit="active_services",
                              count=select(func.count()).select_from(Service).where(Service.active))

A transaction-level advisory lock keyed by (tenant id, limit) serializes creators of the same
counted thing in the same tenant until commit; the count runs after the lock is granted, so under
READ COMMITTED it sees every creation committed before. N concurrent requests at the limit
therefore never exceed it. The refusal names the limit, the usage and the tier that lifts it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.plans import LIMIT_LABELS, lifting_tier, plan_for
from anima.problems import LimitReached
from anima.tenancy import registry


async def ensure_within_limit(
    session: AsyncSession,
    *,
    tenant_id: int,
    tier: str,
    limit: str,
    count: sa.Select,
    adding: int = 1,
) -> int:
    """Lock, count and refuse when ``count + adding`` would pass the tier's ``limit``.

    Args:
        session: a session whose transaction is scoped to the tenant.
        tenant_id: the tenant (part of the lock key).
        tier: the tenant's current tier.
        limit: a limit name of the plan catalog.
        count: a SELECT returning the current usage.
        adding: how many the caller is about to create.

    Returns:
        The usage before the creation.

    Raises:
        LimitReached: 403 problem with ``limit``, ``used``, ``allowed``, ``tier`` and ``upgrade_to``.
    """
    allowed = plan_for(tier).limit(limit)
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(tenant_id, sa.func.hashtext(f"limit:{limit}"))))
    used = int((await session.execute(count)).scalar_one())
    if allowed is not None and used + adding > allowed:
        upgrade = lifting_tier(limit, used + adding)
        label = LIMIT_LABELS.get(limit, limit)
        hint = f" The {upgrade} tier allows more." if upgrade and upgrade != tier else ""
        raise LimitReached(
            f"Your {tier} plan allows {allowed} {label}; {used} in use.{hint}",
            extra={"limit": limit, "used": used, "allowed": allowed, "tier": tier, "upgrade_to": upgrade},
        )
    return used


async def ensure_seat_available(session: AsyncSession, tenant_id: int, *, include_pending: bool) -> int:
    """Refuse a new staff seat past the tenant's ``staff_seats`` limit; platform (unscoped) transaction.

    Seats are memberships; when inviting, pending invitations count too (each will become a
    member), so invitations cannot be used to pass the limit. The tier is read from
    ``platform.tenants`` after the lock, so a concurrent tier change is seen.

    Raises:
        LimitReached: as :func:`ensure_within_limit`.
    """
    from anima.billing.usage import seat_count

    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(tenant_id, sa.func.hashtext("limit:staff_seats"))))
    tier = await registry.tier_of(session, tenant_id)
    return await ensure_within_limit(
        session, tenant_id=tenant_id, tier=tier, limit="staff_seats", count=seat_count(tenant_id, include_pending=include_pending)
    )
