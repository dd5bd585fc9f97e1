"""Staff alerts: the one place alerts are added, and the risk alert every tier gets.

:func:`add_alerts` inserts one :class:`~anima.domains.automations.models.StaffAlert` per member and
audits the alert (``staff.alerted``: patient, entry, recipients; never the message). An alert with a
``source`` (a journal entry or form submission) is unique per member and source: adding it again —
a retried job, or the Escudo de Seguridad playbook after the core rule — adds nothing.

:func:`raise_risk_alert` is the core rule: a HIGH risk in a note or form submission alerts the
patient's assigned therapists, the entry's author and the owners, on every tier, with or without
any playbook installed. Escudo de Seguridad adds the automatic block where the plan has
``risk_auto_block``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.audit.services import Actor, record
from anima.domains.automations.models import StaffAlert
from anima.domains.patients.models import Patient, patient_therapists
from anima.domains.staff.models import StaffMember

#: the ``kind`` of the core risk alert
RISK_ALERT_KIND = "risk"
SOURCE_KINDS = ("note", "form_submission")


@dataclass(frozen=True)
class AlertSource:
    """What an alert is about: a journal entry's ``kind`` (``note`` or ``form_submission``) and id."""

    kind: str
    id: uuid.UUID


async def add_alerts(
    session: AsyncSession,
    actor: Actor,
    staff_ids: Iterable[uuid.UUID],
    *,
    patient_id: uuid.UUID | None,
    kind: str,
    severity: str,
    message: str,
    run_id: uuid.UUID | None = None,
    source: AlertSource | None = None,
) -> list[uuid.UUID]:
    """Alert each member once (per source when one is given); returns the members newly alerted. Audited."""
    alerted: list[uuid.UUID] = []
    for staff_id in dict.fromkeys(staff_ids):
        statement = pg_insert(StaffAlert).values(
            id=uuid.uuid4(), staff_id=staff_id, patient_id=patient_id, run_id=run_id, kind=kind[:40], severity=severity,
            message=message[:500], source_kind=source.kind if source else None, source_id=source.id if source else None,
        )
        if source is not None:
            statement = statement.on_conflict_do_nothing(
                index_elements=["staff_id", "source_id"], index_where=sa.text("source_id IS NOT NULL")
            )
        if (await session.execute(statement.returning(StaffAlert.id))).first() is not None:
            alerted.append(staff_id)
    if alerted:
        await record(
            session, actor, "staff.alerted", patient_id=patient_id, entry_id=source.id if source else None,
            alert_kind=kind, severity=severity, recipients=[str(s) for s in alerted],
            source_kind=source.kind if source else None, run_id=str(run_id) if run_id else None,
        )
    return alerted


async def risk_recipients(session: AsyncSession, patient_id: uuid.UUID, author_id: uuid.UUID | None) -> list[uuid.UUID]:
    """Active members to alert of a patient's risk: assigned therapists, the entry's author, the owners."""
    assigned = sa.select(patient_therapists.c.staff_id).where(patient_therapists.c.patient_id == patient_id)
    who = sa.or_(StaffMember.id.in_(assigned), StaffMember.role == "OWNER")
    if author_id is not None:
        who = sa.or_(who, StaffMember.id == author_id)
    rows = await session.execute(sa.select(StaffMember.id).where(StaffMember.active.is_(True), who).order_by(StaffMember.id))
    return list(rows.scalars())


async def raise_risk_alert(
    session: AsyncSession, actor: Actor, *, patient_id: uuid.UUID, author_id: uuid.UUID | None, source: AlertSource
) -> list[uuid.UUID]:
    """The core HIGH-risk alert (see the module docstring); returns the members newly alerted."""
    patient = await session.get(Patient, patient_id)
    if patient is None:
        return []
    what = "form submission" if source.kind == "form_submission" else "journal note"
    message = f"High risk detected in a {what} of {patient.first_name} {patient.last_name}. Review the record today."
    return await add_alerts(
        session, actor, await risk_recipients(session, patient_id, author_id),
        patient_id=patient_id, kind=RISK_ALERT_KIND, severity="critical", message=message, source=source,
    )
