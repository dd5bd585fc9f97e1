"""Response shapes of the job runtime's operator API."""

from __future__ import annotations

import datetime
import uuid

import msgspec


class JobFailureOut(msgspec.Struct):
    """A job that failed its last attempt: what ran, for which tenant, how often, the error type."""

    id: uuid.UUID
    job_key: str
    function: str
    tenant_id: int | None
    attempts: int
    error_type: str
    failed_at: datetime.datetime
