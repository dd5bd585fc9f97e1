"""The scheduled mail job: every worker sends the platform's and the tenants' due emails each minute.

:func:`send_emails` runs :func:`anima.mail.sender.run_once` (the platform's outbox, claimed ``FOR
UPDATE SKIP LOCKED``, so workers share it) then :func:`anima.mail.tenant_sender.run_once` (the
tenants with due mail in the platform's due-work index, each entered through
:func:`anima.jobs.runner.tenant_transaction`) on :data:`MAIL_CRON`;
:func:`anima.jobs.worker.run_worker` also runs :func:`send_all` once when a worker starts, so mail
queued while no worker ran leaves at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from anima.jobs.runner import job_function
from anima.mail import mailbox, tenant_sender
from anima.mail.sender import run_once
from anima.runtime import Runtime, runtime_of

#: when the worker sends due emails: every minute
MAIL_CRON = "* * * * *"


async def send_all(runtime: Runtime) -> dict[str, Any]:
    """Send what is due: the platform's counts ``{"sent", "retrying", "failed"}`` and the tenants'
    under ``"tenants"`` (with ``"skipped"``: marketing emails to recipients who opted out, SMS
    without consent); with the local mailbox, also how many of its old messages were ``"pruned"``
    (:func:`anima.mail.mailbox.prune`)."""
    counts: dict[str, Any] = dict(await run_once(runtime))
    counts["tenants"] = await tenant_sender.run_once(runtime)
    if runtime.settings.local_mailbox:
        counts["pruned"] = await asyncio.to_thread(mailbox.prune, runtime.settings)
    return counts


@job_function
async def send_emails(ctx: dict[str, Any]) -> dict[str, Any]:
    """SAQ job: :func:`send_all`."""
    return await send_all(runtime_of(ctx))
