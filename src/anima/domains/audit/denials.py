"""Refused attempts at clinical content: marking a refusal so that it reaches the audit trail.

A service that refuses clinical access (an assistant at the journal, a therapist at a patient the
restricted policy hides, a therapist at another's private entry, a non-author changing an entry)
raises its usual :class:`~anima.problems.Problem` marked with :func:`mark_denied`: the mark carries
what is known (patient, entry, a short reason code), never content. The refusal rolls back the
request's transaction, so the trail line cannot be written there: the web layer's after-exception
hook (:mod:`anima.http.clinical_audit`) writes it with :func:`record_denial` in a transaction of its
own. A refusal that is a plain "not found" (no such patient or entry) carries no mark and is not a
denial.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.audit.models import AuditEvent
from anima.domains.audit.services import Actor, record

#: the audit action of a refused attempt at clinical content
ACCESS_DENIED = "clinical.access_denied"
_MARK = "_clinical_denial"


@dataclass(frozen=True)
class Denial:
    """What a refused clinical access was about: ``reason`` (a short code), patient and entry when known."""

    reason: str
    patient_id: uuid.UUID | None = None
    entry_id: uuid.UUID | None = None


def mark_denied(
    exc: Exception, reason: str, *, patient_id: uuid.UUID | None = None, entry_id: uuid.UUID | None = None
) -> Exception:
    """Mark ``exc`` as a refused clinical access and return it (``raise mark_denied(Forbidden(...), ...)``)."""
    setattr(exc, _MARK, Denial(reason, patient_id, entry_id))
    return exc


def denial_of(exc: BaseException) -> Denial | None:
    """The :class:`Denial` marked on ``exc``, or None."""
    return getattr(exc, _MARK, None)


async def record_denial(
    session: AsyncSession, actor: Actor, denial: Denial, *, method: str, route: str, status: int
) -> AuditEvent:
    """Append ``clinical.access_denied`` (actor, role, request id and address from ``actor``; the route
    template and method asked for; patient and entry when known; the status answered)."""
    detail: dict[str, Any] = {"reason": denial.reason, "method": method, "route": route, "status": status}
    return await record(session, actor, ACCESS_DENIED, patient_id=denial.patient_id, entry_id=denial.entry_id, **detail)
