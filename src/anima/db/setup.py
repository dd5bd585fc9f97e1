"""Bringing a database up to date: the platform schema at head and the app role's privileges on it."""

from __future__ import annotations

import sqlalchemy as sa

from anima.db.engine import Database, quote_ident
from anima.tenancy.migrations import upgrade_platform


async def grant_platform_privileges(db: Database) -> None:
    """Give the app role what it needs on ``platform`` and nothing on ``public``; idempotent."""
    app = quote_ident(db.app_role)
    async with db.admin.begin() as conn:
        await conn.execute(sa.text("REVOKE ALL ON SCHEMA platform FROM PUBLIC"))
        await conn.execute(sa.text(f"GRANT USAGE ON SCHEMA platform TO {app}"))
        await conn.execute(sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA platform TO {app}"))
        await conn.execute(sa.text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA platform TO {app}"))
        await conn.execute(sa.text(f"REVOKE INSERT, UPDATE, DELETE ON platform.alembic_version FROM {app}"))
        await conn.execute(sa.text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))


async def migrate_platform(db: Database) -> str:
    """Upgrade the platform schema to head and grant the app role; returns the head revision."""
    head = await upgrade_platform(db.admin)
    await grant_platform_privileges(db)
    return head
