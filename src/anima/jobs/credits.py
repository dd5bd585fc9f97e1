"""The scheduled credit expiry: what is left of each package sale past its validity expires.

:func:`expire_credits` visits every active tenant (one :func:`anima.jobs.runner.tenant_transaction`
each) and runs :func:`anima.domains.packages.ledger.expire_due`, which writes one ``expiry`` entry
per expired sale with credits left. It runs daily at 02:17 UTC (:data:`CREDITS_CRON`); a sale
therefore keeps its credits at most a day past its expiry *in the ledger*, but
:func:`~anima.domains.packages.ledger.use_credit` never uses an expired sale's credits, so nobody
can spend them in between. Running it twice changes nothing (an expired sale's balance is zero).
"""

from __future__ import annotations

import datetime
from typing import Any

from anima.domains.packages.ledger import expire_due
from anima.jobs.runner import TenantInactive, job_function, tenant_transaction
from anima.runtime import Runtime, runtime_of
from anima.tenancy import registry

#: when the worker expires credits: every day at 02:17 (UTC)
CREDITS_CRON = "17 2 * * *"


async def expire_all(svc: Runtime, *, at: datetime.datetime | None = None) -> dict[int, int]:
    """Expire due credits in every active tenant; returns ``{tenant_id: sales expired}`` (non-zero only)."""
    async with svc.sessionmaker() as session:
        tenant_ids = await registry.active_ids(session)
    done: dict[int, int] = {}
    for tenant_id in tenant_ids:
        try:
            async with tenant_transaction(svc, tenant_id) as tx:
                count = await expire_due(tx.session, at=at)
        except TenantInactive:
            continue
        if count:
            done[tenant_id] = count
    return done


@job_function
async def expire_credits(ctx: dict[str, Any]) -> dict[str, Any]:
    """SAQ job: :func:`expire_all`; returns ``{"expired": {tenant_id: sales}}`` (counts only)."""
    return {"expired": {str(k): v for k, v in (await expire_all(runtime_of(ctx))).items()}}
