"""Job functions registered only in test workers, through ``ANIMA_WORKER_EXTRA_FUNCTIONS=tests.worker_jobs:FUNCTIONS``.

``slow_email`` queues one email with the job's idempotency key (the production mechanism of
:mod:`anima.domains.automations.engine`: a unique key in ``outbound_emails``), commits, then —
on its first attempt only — blocks for ``seconds``, so that a test can kill the worker mid-job.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert

from anima.domains.automations.models import OutboundEmail
from anima.jobs.runner import job_function, tenant_transaction


@job_function
async def slow_email(ctx: dict[str, Any], *, tenant_id: int, key: str, seconds: float) -> str:
    job = ctx["job"]
    async with tenant_transaction(ctx, tenant_id) as tj:
        email_id = uuid.uuid4()
        sealed = await tj.cipher.encrypt_text("outbound_emails", "recipient_enc", email_id, "kill-test@example.org")
        await tj.session.execute(
            pg_insert(OutboundEmail).values(
                id=email_id, idempotency_key=key, recipient_enc=sealed, template="generic", subject="kill test", body="once"
            ).on_conflict_do_nothing(index_elements=["idempotency_key"])
        )
    if job.attempts == 1:
        await asyncio.sleep(seconds)
    return f"done on attempt {job.attempts}"


FUNCTIONS = [slow_email]
