"""How each plan limit is counted — one definition shared by enforcement and the usage widget.

Counts only, never content. Two sides:

* platform counts (:func:`seat_count`): staff seats are memberships, plus pending invitations when
  deciding whether another invitation may go out;
* tenant counts (:func:`active_services_count`, :func:`active_patients_count`,
  :func:`ai_analyses_count`): run in a transaction scoped to the tenant. AI analyses count per
  calendar month in UTC (the month restarts at 00:00 UTC on the 1st). Patients are counted once a ``patients`` table exists in the
  tenant schema (``to_regclass('patients')``): rows with ``archived_at IS NULL``.

:func:`usage_report` assembles every limit with used and allowed for one tenant.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.plans import CATALOG, LIMIT_LABELS, lifting_tier, plan_for
from anima.db.base import utcnow
from anima.domains.catalog.models import Service
from anima.identity.models import Invitation, Membership


def seat_count(tenant_id: int, *, include_pending: bool) -> sa.Select:
    """SELECT of the seats in use: members, plus unexpired pending invitations when asked."""
    members = sa.select(sa.func.count()).select_from(Membership).where(Membership.tenant_id == tenant_id).scalar_subquery()
    if not include_pending:
        return sa.select(members)
    pending = (
        sa.select(sa.func.count())
        .select_from(Invitation)
        .where(
            Invitation.tenant_id == tenant_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .scalar_subquery()
    )
    return sa.select(members + pending)


def active_services_count() -> sa.Select:
    """SELECT of the tenant's active services (run scoped to the tenant)."""
    return sa.select(sa.func.count()).select_from(Service).where(Service.active.is_(True))


async def active_patients_count(session: AsyncSession) -> int:
    """Patients not archived in the scoped tenant; 0 while the tenant has no ``patients`` table."""
    if await session.scalar(sa.text("SELECT to_regclass('patients') IS NOT NULL")) is not True:
        return 0
    return int(await session.scalar(sa.text("SELECT count(*) FROM patients WHERE archived_at IS NULL")) or 0)


@dataclass(frozen=True)
class LimitUsage:
    """One limit of the widget: used, allowed (None = unlimited), over (a downgrade left more than allowed)."""

    limit: str
    label: str
    used: int
    allowed: int | None
    over_limit: bool
    upgrade_to: str | None


def limit_rows(tier: str, used: dict[str, int]) -> list[LimitUsage]:
    """Every limit of ``tier`` with its usage, in catalog order."""
    plan = plan_for(tier)
    rows = []
    for name in LIMIT_LABELS:
        allowed = plan.limit(name)
        count = used.get(name, 0)
        at_or_over = allowed is not None and count >= allowed
        upgrade = lifting_tier(name, count + 1) if at_or_over else None
        rows.append(
            LimitUsage(
                limit=name,
                label=LIMIT_LABELS[name],
                used=count,
                allowed=allowed,
                over_limit=allowed is not None and count > allowed,
                upgrade_to=upgrade if upgrade != tier and upgrade in CATALOG else None,
            )
        )
    return rows


async def platform_counts(session: AsyncSession, tenant_id: int) -> dict[str, int]:
    """Counts kept on the platform side (staff seats: members and pending invitations)."""
    return {"staff_seats": int(await session.scalar(seat_count(tenant_id, include_pending=True)) or 0)}


async def tenant_counts(session: AsyncSession) -> dict[str, int]:
    """Counts inside the tenant; ``session`` must be scoped to it."""
    return {
        "active_services": int(await session.scalar(active_services_count()) or 0),
        "patients": await active_patients_count(session),
        "ai_analyses_per_month": await ai_analyses_this_month(session),
    }


def month_start(now: datetime.datetime) -> datetime.datetime:
    """The first instant of ``now``'s calendar month in UTC (``now`` must be timezone-aware)."""
    utc = now.astimezone(datetime.UTC)
    return datetime.datetime(utc.year, utc.month, 1, tzinfo=datetime.UTC)


def ai_analyses_count(now: datetime.datetime | None = None) -> sa.Select:
    """SELECT of the AI analyses run in the calendar month (UTC) of ``now`` (default: the present);
    run scoped to the tenant. Counts ``ai_analysis_usage`` rows (see :mod:`anima.domains.insights.models`)."""
    from anima.domains.insights.models import AiAnalysisUsage

    start = month_start(now or utcnow())
    return sa.select(sa.func.count()).select_from(AiAnalysisUsage).where(AiAnalysisUsage.created_at >= start)


async def ai_analyses_this_month(session: AsyncSession) -> int:
    """AI analyses of the current calendar month (UTC) in the scoped tenant; 0 before the table exists."""
    if await session.scalar(sa.text("SELECT to_regclass('ai_analysis_usage') IS NOT NULL")) is not True:
        return 0
    return int(await session.scalar(ai_analyses_count()) or 0)
