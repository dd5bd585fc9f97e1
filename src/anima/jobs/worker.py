"""Worker settings and the worker process: SAQ worker + outbox relay in one event loop.

:func:`build_worker` registers the job functions (the event pipeline of
:mod:`anima.jobs.handlers`; the AI jobs ``analyze_journal_entry`` and ``analyze_patient`` of
:mod:`anima.ai.jobs`; extra functions named by
``ANIMA_WORKER_EXTRA_FUNCTIONS``), the cron tick (``ANIMA_AUTOMATION_TICK``), the hourly
grace-period expiry (:mod:`anima.jobs.billing`), the minutely sending of due emails
(:mod:`anima.jobs.mail`; also run once when the worker starts), the Google Calendar event sync
(:mod:`anima.domains.gcal.sync`), the staff notification emails
(:mod:`anima.domains.preferences.emails`), the concurrency
(``ANIMA_WORKER_CONCURRENCY``) and the sweep interval (``ANIMA_WORKER_SWEEP``: how soon a job of a
dead worker — no heartbeat for ``ANIMA_JOB_HEARTBEAT`` seconds — is retried).

:func:`run_worker` is what ``anima worker`` runs and what ``anima demo`` starts next to the server.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from typing import Any

from saq import CronJob, Worker

from anima.ai import jobs as ai_jobs
from anima.config import Settings
from anima.db.engine import Database
from anima.domains.gcal import sync as gcal_sync
from anima.domains.payments import receipts as payment_receipts
from anima.domains.payments import transfers as payment_transfers
from anima.domains.preferences import emails as staff_emails
from anima.jobs import billing as billing_jobs
from anima.jobs import handlers
from anima.jobs import mail as mail_jobs
from anima.jobs import credits as credits_jobs
from anima.jobs.queue import job_options, make_queue
from anima.jobs.relay import Relay
from anima.runtime import RUNTIME_KEY, Runtime, build_runtime
from anima.logs import get_logger
from anima.process_tuning import settle_heap

log = get_logger(__name__)

def extra_functions(spec: str | None) -> list[Callable[..., Any]]:
    """Functions named by ``module:attribute`` (a list of job functions)."""
    if not spec:
        return []
    module, _, attribute = spec.partition(":")
    return list(getattr(importlib.import_module(module), attribute))


def worker_functions(settings: Settings) -> list[Callable[..., Any]]:
    """Every job function this deployment's workers run."""
    return [
        handlers.handle_event, handlers.automation_tick, handlers.tenant_tick,
        ai_jobs.analyze_journal_entry, ai_jobs.analyze_patient, billing_jobs.expire_grace,
        mail_jobs.send_emails, gcal_sync.sync_google_event, credits_jobs.expire_credits, staff_emails.notify_staff,
        payment_receipts.send_payment_receipt, payment_transfers.transfer_therapist_share,
        *extra_functions(settings.worker_extra_functions),
    ]


def build_worker(svc: Runtime, *, handle_signals: bool = True) -> Worker:
    """A SAQ worker on ``svc.queue`` with Anima's functions, cron tick and timers."""
    settings = svc.settings
    tick = job_options(settings, timeout=120, retries=3)
    worker = Worker(
        svc.queue,
        functions=worker_functions(settings),
        concurrency=settings.worker_concurrency,
        cron_jobs=[
            CronJob(handlers.automation_tick, cron=settings.automation_tick, unique=True,
                    timeout=tick["timeout"], heartbeat=tick["heartbeat"], retries=tick["retries"], ttl=60),
            CronJob(billing_jobs.expire_grace, cron=billing_jobs.GRACE_CRON, unique=True,
                    timeout=600, heartbeat=tick["heartbeat"], retries=tick["retries"], ttl=3600),
            CronJob(mail_jobs.send_emails, cron=mail_jobs.MAIL_CRON, unique=True,
                    timeout=300, heartbeat=tick["heartbeat"], retries=1, ttl=60),
            CronJob(credits_jobs.expire_credits, cron=credits_jobs.CREDITS_CRON, unique=True,
                    timeout=1800, heartbeat=tick["heartbeat"], retries=tick["retries"], ttl=3600),
        ],
        timers={"sweep": settings.worker_sweep, "schedule": 1, "abort": 1, "worker_info": 10},
        shutdown_grace_period_s=5,
    )
    worker.context[RUNTIME_KEY] = svc
    if not handle_signals:
        worker.SIGNALS = []  # the host (uvicorn in `anima demo`) owns the signals
    return worker


async def _send_mail_at_start(svc: Runtime) -> None:
    """Send the emails that became due while no worker ran (the cron job sends the rest)."""
    try:
        counts = await mail_jobs.send_all(svc)
    except Exception as exc:  # noqa: BLE001 - the minutely job tries again
        log.warning("sending mail at start failed", error_type=type(exc).__qualname__)
    else:
        log.info("mail sent at start", **counts)


async def run_worker(settings: Settings, db: Database, stop: asyncio.Event | None = None, *, handle_signals: bool = True) -> None:
    """Run a worker and a relay until ``stop`` is set (or SIGINT/SIGTERM when ``handle_signals``)."""
    queue = await make_queue(settings, db, max_connections=settings.worker_concurrency + 5)
    svc = build_runtime(settings, db, queue=queue)
    worker = build_worker(svc, handle_signals=handle_signals)
    stop = stop or asyncio.Event()
    relay = Relay(svc)
    relay_task = asyncio.create_task(relay.run(stop), name="anima-relay")
    worker_task = asyncio.create_task(worker.start(), name="anima-worker")
    if settings.is_production and settings.local_mailbox:
        log.warning("SMTP_URL is not set: emails are written to the local mailbox, not sent", mailbox="ANIMA_DATA_DIR/mailbox")
    mail_task = asyncio.create_task(_send_mail_at_start(svc), name="anima-mail-at-start")
    if handle_signals:  # its own process (`anima worker`), not a test's or a host's loop
        settle_heap()
    log.info("worker started", queue=settings.queue_name, functions=sorted(worker.functions), concurrency=worker.concurrency)
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({worker_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        await worker.stop()
        for task in (worker_task, relay_task, stopper, mail_task):
            task.cancel()
        await asyncio.gather(worker_task, relay_task, stopper, mail_task, return_exceptions=True)
        await queue.disconnect()
        log.info("worker stopped")
