"""The operator API of the job runtime: jobs that failed their last attempt (never their data)."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from litestar import Controller, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from anima.http.access import operator_guard
from anima.http.pagination import OffsetPagination, Page
from anima.jobs.models import JobFailure
from anima.jobs.schemas import JobFailureOut


class JobFailuresController(Controller):
    path = "/api/v1/operator/job-failures"
    tags = ["operator"]
    guards = [operator_guard]

    @get("/", summary="Jobs that failed their last attempt (function, tenant, attempts, error type)")
    async def list_failures(
        self, db_session: AsyncSession, operator: str, page: Page, tenant_id: Annotated[int | None, Parameter(ge=1)] = None
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


ROUTE_HANDLERS = [JobFailuresController]
