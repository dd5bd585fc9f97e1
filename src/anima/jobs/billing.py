"""The scheduled billing job: grace-period expiry, run by every worker's cron.

:func:`expire_grace` runs :func:`anima.billing.grace.apply_expired_grace` (tenants whose lapsed
subscription's grace period ended fall to what remains, one transaction each; data is never
touched) on the schedule :data:`GRACE_CRON` — hourly, at minute 7, so a tenant keeps a paid tier
at most an hour past its grace end. The cron job is unique (SAQ key ``cron:expire_grace``), so
several workers schedule it once. ``anima billing expire-grace`` does the same by hand.
"""

from __future__ import annotations

from typing import Any

from anima.billing.grace import apply_expired_grace
from anima.jobs.runner import job_function
from anima.runtime import runtime_of

#: when the worker runs the grace expiry: every hour at minute 7 (UTC)
GRACE_CRON = "7 * * * *"


@job_function
async def expire_grace(ctx: dict[str, Any]) -> dict[str, Any]:
    """SAQ job: move tenants whose grace ended; returns ``{"changed": [{tenant_id, from, to}]}`` (ids and tiers only)."""
    changes = await apply_expired_grace(runtime_of(ctx).db)
    return {"changed": [{"tenant_id": c.tenant_id, "from": c.from_tier, "to": c.to_tier} for c in changes]}
