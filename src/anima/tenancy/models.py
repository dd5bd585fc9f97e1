"""Platform-schema tables of the tenant registry.

``platform.tenants`` is the registry: one row per organization with its slug, tier, lifecycle
state, schema, PostgreSQL role and the migration revision its schema is at. An organization *is*
a tenant; the row carries both views.
``platform.tenant_events`` records every lifecycle change (who, what, why) for operators.
"""

from __future__ import annotations

import datetime
import enum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Identity, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import PlatformBase, Timestamps, UUIDKey, utcnow


class TenantState(enum.StrEnum):
    """Lifecycle of a tenant: provisioning → active ⇄ suspended → deleting."""

    PROVISIONING = "provisioning"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETING = "deleting"


class Tier(enum.StrEnum):
    """The plan tiers; limits and features per tier live in the plan catalog (anima.billing)."""

    BUILDER = "BUILDER"
    PRO = "PRO"
    CENTER = "CENTER"


class Tenant(Timestamps, PlatformBase):
    """An organization and its registry entry."""

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint("state IN ('provisioning','active','suspended','deleting')", name="state_valid"),
        CheckConstraint("tier IN ('BUILDER','PRO','CENTER')", name="tier_valid"),
        Index("uq_tenants_slug", "slug", unique=True),
        # the due-work functions find the calling tenant by its role
        Index("uq_tenants_db_role", "db_role", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    slug: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(16), default=Tier.BUILDER.value)
    state: Mapped[str] = mapped_column(String(16), default=TenantState.PROVISIONING.value)
    schema_name: Mapped[str | None] = mapped_column(String(63), nullable=True)
    db_role: Mapped[str | None] = mapped_column(String(63), nullable=True)
    revision: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_migration_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    #: the address the organization's emails are sent from (display name: ``name``); None: the
    #: address of ``ANIMA_MAIL_FROM``. Set by an operator only: the domain must let us send for it.
    mail_from_address: Mapped[str | None] = mapped_column(String(254), nullable=True)


class TenantEvent(UUIDKey, PlatformBase):
    """One lifecycle change of a tenant: created, provisioned, suspended, resumed, migrated, deleted …"""

    __tablename__ = "tenant_events"

    tenant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(254))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime.datetime] = mapped_column(server_default=func.now(), default=utcnow)


__all__ = ["Tenant", "TenantEvent", "TenantState", "Tier"]
