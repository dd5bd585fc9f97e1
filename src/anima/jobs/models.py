"""The platform's record of jobs that failed for good.

``platform.job_failures`` holds one row per job that exhausted its retries: function, tenant,
attempts and the exception's type, never its message (it could quote data). Operators read it.
"""

from __future__ import annotations

import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import PlatformBase, UUIDKey, utcnow


class JobFailure(UUIDKey, PlatformBase):
    """A job that failed its last attempt: what ran, for which tenant, how often, and the error type."""

    __tablename__ = "job_failures"

    job_key: Mapped[str] = mapped_column(String(200), index=True)
    function: Mapped[str] = mapped_column(String(100))
    tenant_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    error_type: Mapped[str] = mapped_column(String(200))
    failed_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), default=utcnow, server_default=func.now()
    )
