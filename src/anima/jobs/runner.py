"""What every job runs inside: the worker's services, a tenant transaction, heartbeats, failures.

* The worker's :class:`~anima.runtime.Runtime` lives in the SAQ context as ``ctx["anima"]``
  (:func:`anima.runtime.runtime_of`), made once per worker process.
* :func:`tenant_transaction` — **the one way a job enters a tenant** — opens a session on the app engine and enters the tenant with
  :func:`anima.tenancy.scope.enter_tenant` — the one-statement, transaction-local scope a request
  uses — and commits at the end (rolls back on error). A job never runs outside its tenant.
* :func:`job_function` wraps a job: binds ``job``/``tenant`` to the log context, touches the job
  every third of its heartbeat while it runs (so a live long job is not swept, and a dead
  worker's job is), and records a job that failed its last attempt in ``platform.job_failures``
  (the exception type only).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog

from anima.crypto.cipher import FieldCipher
from anima.jobs.models import JobFailure
from anima.logs import get_logger
from anima.runtime import Runtime, runtime_of
from anima.tenancy.scope import enter_tenant
from anima.tenancy.transaction import TenantTransaction

log = get_logger(__name__)


class TenantInactive(Exception):
    """The job's tenant is not active (suspended, being deleted or gone)."""


@asynccontextmanager
async def tenant_transaction(holder: Runtime | dict[str, Any], tenant_id: int) -> AsyncIterator[TenantTransaction]:
    """Enter ``tenant_id`` like a request does; commit on success, roll back on error.

    The one way a job (or any code outside a request) works inside a tenant. ``holder`` is the
    process's :class:`~anima.runtime.Runtime` or a SAQ job context holding it.

    Raises:
        TenantInactive: the tenant is not active (nothing is done in it).
    """
    svc = holder if isinstance(holder, Runtime) else runtime_of(holder)
    async with svc.sessionmaker() as session:
        async with session.begin():
            scoped = await enter_tenant(session, tenant_id)
            if scoped is None:
                raise TenantInactive(f"tenant {tenant_id} is not active")
            structlog.contextvars.bind_contextvars(tenant=scoped.slug)
            yield TenantTransaction(session, scoped, FieldCipher(svc.keyring, session, scoped.id), svc.settings.public_url)


async def _heartbeat(job: Any, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await job.update()
        except Exception:  # noqa: BLE001 - a missed beat is retried next time
            log.warning("job heartbeat failed", job=job.key)


async def record_failure(ctx: dict[str, Any], job: Any, exc: BaseException, tenant_id: int | None) -> None:
    """Add a ``platform.job_failures`` row (function, tenant, attempts, exception type)."""
    svc = runtime_of(ctx)
    async with svc.sessionmaker() as session:
        session.add(
            JobFailure(
                job_key=str(job.key)[:200], function=str(job.function)[:100], tenant_id=tenant_id,
                attempts=int(job.attempts), error_type=type(exc).__qualname__[:200],
            )
        )
        await session.commit()


def job_function(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Decorate a SAQ job function (see the module docstring). The name SAQ registers is kept."""

    @functools.wraps(fn)
    async def wrapper(ctx: dict[str, Any], **kwargs: Any) -> Any:
        job = ctx.get("job")
        tenant_id = kwargs.get("tenant_id")
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(job=getattr(job, "key", None), function=fn.__qualname__, tenant_id=tenant_id)
        beat = None
        if job is not None and job.heartbeat:
            beat = asyncio.create_task(_heartbeat(job, max(0.5, job.heartbeat / 3)))
        try:
            return await fn(ctx, **kwargs)
        except TenantInactive:
            log.warning("job skipped: tenant not active")
            return {"skipped": "tenant not active"}
        except Exception as exc:
            final = job is None or job.attempts >= job.retries
            log.warning("job failed", error_type=type(exc).__qualname__, attempt=getattr(job, "attempts", None), final=final)
            if final and job is not None:
                try:
                    await record_failure(ctx, job, exc, tenant_id)
                except Exception:  # noqa: BLE001
                    log.exception("could not record a job failure")
            raise
        finally:
            if beat is not None:
                beat.cancel()
            structlog.contextvars.clear_contextvars()

    return wrapper
