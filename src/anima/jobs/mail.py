"""The scheduled mail job: every worker sends the platform's due emails each minute.

:func:`send_emails` runs :func:`anima.mail.sender.run_once` (claims due messages ``FOR UPDATE
SKIP LOCKED``, so workers share them) on :data:`MAIL_CRON`; :func:`anima.jobs.worker.run_worker`
also runs it once when a worker starts, so mail queued while no worker ran leaves at once.
"""

from __future__ import annotations

from typing import Any

from anima.jobs.runner import job_function
from anima.mail.sender import run_once
from anima.runtime import runtime_of

#: when the worker sends due emails: every minute
MAIL_CRON = "* * * * *"


@job_function
async def send_emails(ctx: dict[str, Any]) -> dict[str, Any]:
    """SAQ job: send what is due; returns the counts ``{"sent", "retrying", "failed"}``."""
    return await run_once(runtime_of(ctx))
