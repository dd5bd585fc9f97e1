"""Job functions for the SAQ worker (plain async functions: SAQ's ``ctx`` plus keyword arguments).

Registered by :mod:`anima.jobs.worker` under their names, wrapped by
:func:`anima.jobs.runner.job_function` (heartbeats, failure records). Each job carries its
tenant and enters it through :func:`anima.jobs.runner.tenant_transaction`, like a request does;
the process's :class:`~anima.runtime.Runtime` is ``ctx["anima"]``.

* :func:`analyze_journal_entry` ``(tenant_id, entry_id)`` — enqueued for ``JOURNAL_ENTRY_CREATED`` (notes) and
  ``FORM_SUBMISSION_COMPLETED`` (form submissions), once per entry:
  screens a note or form submission (other kinds are skipped) with the local risk detector and,
  when the level is not LOW, emits ``RISK_DETECTED_IN_NOTE`` (ids and level, no flags or text) in the same
  transaction; a HIGH level also alerts the care team and the owners (every tier, once per entry:
  :func:`anima.domains.automations.alerts.raise_risk_alert`). The screening is the local detector
  (nothing leaves the server) and needs no AI consent. Returns the assessment without any text (levels, flags, offsets).
* :func:`analyze_patient` ``(tenant_id, patient_id, requested_by)`` — enqueued for
  ``AI_ANALYSIS_REQUESTED``: the observatory (:func:`analyze_patient_job` is the unwrapped core).

Neither returns nor logs clinical text.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor, record
from anima.domains.automations.alerts import AlertSource, raise_risk_alert
from anima.domains.journal import services as journal
from anima.domains.journal.models import JournalEntry
from anima.domains.patients.models import Patient
from anima.events.outbox import emit
from anima.jobs.runner import job_function
from anima.events.types import EventType
from anima.ai import observatory
from anima.ai.observatory import AnalysisResult
from anima.ai.risk import MAX_TEXT_BYTES, detect_risk
from anima.jobs.runner import TenantInactive, tenant_transaction
from anima.runtime import Runtime, runtime_of
from anima.ai.text import entry_text
from anima.problems import NotFound, Problem
from anima.logs import get_logger
from anima.domains.patients.visibility import viewer_for
from anima.domains.staff.models import StaffMember

log = get_logger(__name__)

RISK_DETECTED_IN_NOTE = EventType.RISK_DETECTED_IN_NOTE
SCREENED_KINDS = ("note", "form_submission")
SYSTEM_ACTOR_ROLE = "system"


async def emit_risk_detected(session: AsyncSession, payload: dict[str, Any]) -> bool:
    """Emit ``RISK_DETECTED_IN_NOTE`` with ``payload`` (ids, level, a count — no flags, no text) in the
    caller's transaction through the tenant outbox (:func:`anima.events.outbox.emit`); the
    Escudo de Seguridad playbook reads ``event.level``. Returns True once the event is recorded."""
    await emit(session, EventType.RISK_DETECTED_IN_NOTE, payload)
    return True


def _plain_text(out: Any) -> str:
    text = entry_text(out.html, out.data, [(a.html, a.data) for a in out.amendments])
    while len(text.encode()) > MAX_TEXT_BYTES:  # screen the first 100 KB of a very long entry
        text = text[: len(text) * 9 // 10]
    return text


async def screen_entry(session: AsyncSession, cipher: FieldCipher, entry_id: uuid.UUID, *, job_id: str | None = None) -> dict[str, Any]:
    """Screen one journal entry inside an already scoped transaction; emit the event when not LOW.

    Returns ``{"status": "screened", "entry_id", "patient_id", "emitted", **assessment.summary()}``
    or ``{"status": "skipped", "reason"}`` (no such entry, or a kind that is not screened).
    """
    entry = await session.get(JournalEntry, entry_id)
    if entry is None:
        return {"status": "skipped", "reason": "entry-not-found", "entry_id": str(entry_id)}
    if entry.kind not in SCREENED_KINDS:
        return {"status": "skipped", "reason": f"kind-{entry.kind}-not-screened", "entry_id": str(entry_id)}
    out = await journal.to_out(session, cipher, entry)
    patient = await session.get(Patient, entry.patient_id)
    patient_language = patient.language if patient is not None else None
    assessment = detect_risk(_plain_text(out), patient_language)
    summary = assessment.summary()
    actor = Actor(None, SYSTEM_ACTOR_ROLE, job_id, None)
    await record(session, actor, "insights.screened", patient_id=entry.patient_id, entry_id=entry.id, level=assessment.level)
    result: dict[str, Any] = {
        "status": "screened", "entry_id": str(entry.id), "patient_id": str(entry.patient_id), "kind": entry.kind,
        "emitted": False, **summary,
    }
    if assessment.level != "LOW":
        # the level is what playbooks act on; the flags (clinical categories) stay out of the
        # plaintext outbox — readers with clinical access re-run the detector on the note
        payload = {k: result[k] for k in ("entry_id", "patient_id", "kind", "level")}
        payload["evidence_count"] = len(assessment.evidence)
        result["emitted"] = await emit_risk_detected(session, payload)
    if assessment.level == "HIGH":
        # every tier, with or without a playbook: the care team and the owners hear of it, once per entry
        alerted = await raise_risk_alert(
            session, actor, patient_id=entry.patient_id, author_id=entry.author_id, source=AlertSource(entry.kind, entry.id)
        )
        result["alerted"] = len(alerted)
    log.info("journal entry screened", entry_id=str(entry.id), emitted=result["emitted"])
    return result


@job_function
async def analyze_journal_entry(ctx: dict[str, Any], *, tenant_id: int, entry_id: str | uuid.UUID) -> dict[str, Any]:
    """SAQ job: screen journal entry ``entry_id`` of tenant ``tenant_id`` (see :func:`screen_entry`)."""
    job = ctx.get("job")
    job_id = getattr(job, "key", None)
    try:
        async with tenant_transaction(ctx, int(tenant_id)) as tj:
            return await screen_entry(tj.session, tj.cipher, uuid.UUID(str(entry_id)), job_id=job_id)
    except TenantInactive:
        return {"status": "skipped", "reason": "tenant-not-active", "entry_id": str(entry_id)}


async def analyze_patient_job(
    ctx: dict[str, Any], *, tenant_id: int, patient_id: str | uuid.UUID, requested_by: str | uuid.UUID
) -> dict[str, Any]:
    """The observatory for one patient as ``requested_by``; returns ids and the level, no text.

    A requester who left the organization, or a patient they may no longer see, ends the job with
    ``status: "refused"`` (retrying would not help)."""
    runtime = runtime_of(ctx)
    job = ctx.get("job")
    try:
        result = await run_patient_analysis(
            runtime, tenant_id=int(tenant_id), patient_id=patient_id, requested_by=requested_by,
            request_id=getattr(job, "key", None),
        )
    except Problem as exc:
        log.warning("patient analysis refused", status=exc.status, patient_id=str(patient_id))
        return {"status": "refused", "reason": exc.kind, "patient_id": str(patient_id)}
    data = result.entry.data or {}
    return {
        "status": "analysed", "entry_id": str(result.entry.id), "patient_id": str(result.entry.patient_id),
        "source": data.get("source"), "risk_level": data.get("risk_level"), "cached": result.cached,
    }


async def run_patient_analysis(
    runtime: Runtime,
    *,
    tenant_id: int,
    patient_id: uuid.UUID | str,
    requested_by: uuid.UUID | str,
    request_id: str | None = None,
) -> AnalysisResult:
    """Run :func:`analyze_patient` in a transaction of its own, entered like a request does.

    The requester must still be an active member of the tenant with a clinical role; their role
    is read from the tenant's ``staff`` mirror. Commits on success.

    Raises:
        NotFound: the tenant is not active, or the requester is no longer an active member, or the
            patient is not theirs to see. Forbidden, Conflict: as :func:`analyze_patient`.
    """
    patient_uuid = uuid.UUID(str(patient_id))
    requester = uuid.UUID(str(requested_by))
    try:
        async with tenant_transaction(runtime, tenant_id) as tj:
            session = tj.session
            role = (
                await session.execute(
                    sa.select(StaffMember.role).where(StaffMember.id == requester, StaffMember.active.is_(True))
                )
            ).scalar_one_or_none()
            if role is None:
                raise NotFound("the requester is not an active member of this organization")
            viewer = await viewer_for(session, requester, role)
            actor = Actor(requester, role, request_id, None)
            return await observatory.analyze_patient(
                session, tj.cipher, runtime, viewer=viewer, actor=actor, patient_id=patient_uuid, tier=tj.tenant.tier
            )
    except TenantInactive:
        raise NotFound(f"tenant {tenant_id} is not active") from None


@job_function
async def analyze_patient(
    ctx: dict[str, Any], *, tenant_id: int, patient_id: str | uuid.UUID, requested_by: str | uuid.UUID
) -> dict[str, Any]:
    """SAQ job ``analyze_patient`` (the name :mod:`anima.jobs.handlers` enqueues for
    ``AI_ANALYSIS_REQUESTED``): :func:`analyze_patient_job`."""
    return await analyze_patient_job(ctx, tenant_id=tenant_id, patient_id=patient_id, requested_by=requested_by)
