"""The operator API of the job runtime: jobs that failed their last attempt, and messages that
could not be delivered, with a retry (never their data, recipients or content)."""

from __future__ import annotations

import uuid
from typing import Annotated

import sqlalchemy as sa
from litestar import Controller, get, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from anima.http.access import operator_guard
from anima.http.openapi import answers
from anima.http.pagination import OffsetPagination, Page
from anima.jobs.models import JobFailure
from anima.jobs.schemas import JobFailureOut, MailFailureOut
from anima.logs import get_logger
from anima.mail import failures
from anima.runtime import Runtime

log = get_logger(__name__)


class JobFailuresController(Controller):
    path = "/api/v1/operator/job-failures"
    tags = ["operator"]
    guards = [operator_guard]

    @get("/", summary="Jobs that failed their last attempt (function, tenant, attempts, error type)")
    async def list_failures(
        self, db_session: AsyncSession, operator: str, page: Page, tenant_id: Annotated[int | None, Parameter(ge=1, le=2**63 - 1, description="a tenant id (a PostgreSQL bigint)")] = None
    ) -> OffsetPagination[JobFailureOut]:
        items, total = await failed_jobs(db_session, tenant_id=tenant_id, limit=page.limit, offset=page.offset)
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)


async def failed_jobs(
    db_session: AsyncSession, *, tenant_id: int | None, limit: int, offset: int
) -> tuple[list[JobFailureOut], int]:
    """Failed jobs newest first (of one tenant when ``tenant_id``) and their total (API and console)."""
    where = [JobFailure.tenant_id == tenant_id] if tenant_id else []
    total = (await db_session.execute(sa.select(sa.func.count()).select_from(JobFailure).where(*where))).scalar_one()
    rows = (await db_session.execute(
        sa.select(JobFailure).where(*where).order_by(JobFailure.failed_at.desc()).limit(limit).offset(offset)
    )).scalars()
    return [JobFailureOut(f.id, f.job_key, f.function, f.tenant_id, f.attempts, f.error_type, f.failed_at) for f in rows], total


class MailFailuresController(Controller):
    path = "/api/v1/operator/mail-failures"
    tags = ["operator"]
    guards = [operator_guard]

    @get("/", summary="Messages that failed for good and wait for an operator (organization, channel, kind, reason)")
    async def list_failures(self, db_session: AsyncSession, operator: str, page: Page) -> OffsetPagination[MailFailureOut]:
        items, total = await mail_failures(db_session, limit=page.limit, offset=page.offset)
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @post("/{failure_id:uuid}/retry", opt=answers(404), status_code=HTTP_200_OK,
          summary="Put one failed message back in its queue, due now (its attempts start again)")
    async def retry(self, runtime: Runtime, operator: str, failure_id: uuid.UUID) -> MailFailureOut:
        failure = await failures.retry(runtime, failure_id)
        log.info("mail failure retried", failure_id=str(failure_id), operator=operator)
        return _out(failure)


def _out(f: failures.MailFailure) -> MailFailureOut:
    return MailFailureOut(f.id, f.tenant_id, f.channel, f.kind, f.reason, f.attempts, f.failed_at, f.retried_at)


async def mail_failures(db_session: AsyncSession, *, limit: int, offset: int) -> tuple[list[MailFailureOut], int]:
    """Open mail failures newest first and their total (API and console)."""
    rows, total = await failures.open_failures(db_session, limit=limit, offset=offset)
    return [_out(f) for f in rows], total


ROUTE_HANDLERS = [JobFailuresController, MailFailuresController]
