"""Usage counts of tenants, for operators and the billing widget: counts only, never content.

Counting inside a tenant needs its role, so the caller's transaction is switched from tenant to
tenant by name (``SET ROLE`` checks the *session* user's membership, so the switch from one tenant
role to the next is allowed for the app login and for nobody else).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.db.engine import quote_ident
from anima.tenancy.scope import SCOPE_BY_NAMES

_COUNTS = sa.text(
    "SELECT (SELECT count(*) FROM staff WHERE active) AS staff_active, (SELECT count(*) FROM services) AS services"
)


async def tenant_counts(session: AsyncSession, tenants: Sequence[Any]) -> dict[int, dict[str, int]]:
    """Counts per tenant id for rows with ``id, schema_name, db_role, state``; members from the platform.

    Must be called on an unscoped transaction; it leaves the transaction scoped to the last tenant,
    so the caller should not run platform statements after it in the same transaction.
    """
    ids = [t.id for t in tenants]
    out: dict[int, dict[str, int]] = {i: {"members": 0, "staff_active": 0, "services": 0} for i in ids}
    if not ids:
        return out
    members = await session.execute(
        sa.text("SELECT tenant_id, count(*) AS n FROM platform.memberships WHERE tenant_id = ANY(:ids) GROUP BY tenant_id"),
        {"ids": ids},
    )
    for row in members:
        out[row.tenant_id]["members"] = row.n
    for t in tenants:
        if t.state not in ("active", "suspended") or not t.schema_name:
            continue
        await session.execute(SCOPE_BY_NAMES, {"search_path": quote_ident(t.schema_name), "role": t.db_role})
        row = (await session.execute(_COUNTS)).one()
        out[t.id]["staff_active"] = row.staff_active
        out[t.id]["services"] = row.services
    return out
