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


class MailFailureOut(msgspec.Struct):
    """A message that failed for good: its id, organization (null: the platform's own email),
    channel (email or sms), kind or template, the server's reason, attempts, when, and when an
    operator retried it. Never the recipient or the content."""

    id: uuid.UUID
    tenant_id: int | None
    channel: str
    kind: str
    reason: str
    attempts: int
    failed_at: datetime.datetime
    retried_at: datetime.datetime | None
