"""Patients ("the Soul Record"), their journey stages, therapist assignments and the access policy.

Plaintext columns hold what lists and search need and is not clinical: names, birth date,
language, journey stage, tags and the non-clinical profile. Contact details are encrypted
(``email_enc``, ``phone_enc``) with keyed blind indexes for equality search (``email_bidx``,
``phone_bidx``); the clinical part of the profile (medical, psychological and spiritual history,
risk notes) is one encrypted JSON document (``clinical_enc``). ``archived_at IS NULL`` marks an
active patient (what the tier's patient limit counts).

Stage clock: ``stage_entered_at`` is when the patient entered their current journey stage and
``stage_timeout_emitted_at`` when the stage-timeout monitor
(:mod:`anima.domains.patients.stage_timeouts`) reported them overdue in it. Both are kept by an
attribute listener on ``journey_stage``: whenever the stage is set to a different value (creation
included, through the ORM), the clock restarts and the marker is cleared.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import DDL, Boolean, CheckConstraint, Column, Date, ForeignKey, Index, Integer, LargeBinary, String, Table, Text, event, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from anima.crypto.types import EncryptedJSON, EncryptedText
from anima.db.base import TenantBase, Timestamps, UUIDKey, utcnow

#: the pipeline every organization starts with; labels can be renamed, keys stay
DEFAULT_STAGES = (
    ("inquiry", "Inquiry"),
    ("intake", "Intake"),
    ("active", "In process"),
    ("integration", "Integration"),
    ("completed", "Completed"),
)


class JourneyStage(TenantBase):
    """A stage of the patients' journey: stable ``key``, renamable ``label``, ``position`` in the
    pipeline, and ``timeout_days`` (1-3650, or none): a patient staying longer than that in the
    stage is reported once by ``JOURNEY_STAGE_TIMEOUT``."""

    __tablename__ = "journey_stages"
    __table_args__ = (CheckConstraint("timeout_days BETWEEN 1 AND 3650", name="timeout_days_range"),)

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(Integer)
    timeout_days: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Patient(UUIDKey, Timestamps, TenantBase):
    """A person in care. See the module docstring for which columns are encrypted."""

    __tablename__ = "patients"
    __table_args__ = (
        Index("ix_patients_email_bidx", "email_bidx"),
        Index("ix_patients_phone_bidx", "phone_bidx"),
        Index("ix_patients_active_name", "archived_at", "last_name", "first_name"),
        # what the stage-timeout monitor scans: active patients not yet reported in their stage
        Index(
            "ix_patients_stage_clock", "journey_stage", "stage_entered_at",
            postgresql_where=text("stage_timeout_emitted_at IS NULL AND archived_at IS NULL"),
        ),
    )

    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100), default="")
    birth_date: Mapped[datetime.date | None] = mapped_column(Date, nullable=True)
    language: Mapped[str | None] = mapped_column(String(35), nullable=True)
    #: the client's IANA zone (what their emails and pages show times in); None: the practice's
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    journey_stage: Mapped[str] = mapped_column(String(32), ForeignKey("journey_stages.key", onupdate="CASCADE"))
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    profile: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    email_enc: Mapped[bytes | None] = mapped_column(EncryptedText, nullable=True)
    email_bidx: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    phone_enc: Mapped[bytes | None] = mapped_column(EncryptedText, nullable=True)
    phone_bidx: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    clinical_enc: Mapped[bytes | None] = mapped_column(EncryptedJSON, nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    archived_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    #: set through :func:`anima.domains.patients.blocks.block_patient` (the Escudo de Seguridad
    #: playbook on tiers with ``risk_auto_block``): a blocked patient cannot be booked
    blocked_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    blocked_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: what caused the block: the kind (``note``, ``form_submission``, ``playbook``) and id of its source
    blocked_source_kind: Mapped[str | None] = mapped_column(String(24), nullable=True)
    blocked_source_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    #: the last lift of a block: when, by whom, and the clinician's reason (encrypted: it may be clinical)
    block_lifted_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    block_lifted_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    block_lift_reason_enc: Mapped[bytes | None] = mapped_column(EncryptedText, nullable=True)
    #: the current consent to AI processing (None: never recorded); its history is in ``ai_consents``
    ai_consent_given: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    ai_consent_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ai_consent_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    ai_consent_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    #: when the patient entered ``journey_stage`` (see the module docstring)
    stage_entered_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    #: when ``JOURNEY_STAGE_TIMEOUT`` was emitted for this stage entry; cleared on a stage change
    stage_timeout_emitted_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


@event.listens_for(Patient.journey_stage, "set", active_history=True)
def _restart_stage_clock(target: Patient, value: str, oldvalue: Any, initiator: Any) -> None:
    """A new stage (or the first one) restarts the stage clock and clears the timeout marker."""
    if value != oldvalue:
        target.stage_entered_at = utcnow()
        target.stage_timeout_emitted_at = None


patient_therapists = Table(
    "patient_therapists",
    TenantBase.metadata,
    Column("patient_id", GUID, ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True),
    Column("staff_id", GUID, ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class ClinicalPolicy(TenantBase):
    """Singleton (id 1): whether therapists see only the patients assigned to them."""

    __tablename__ = "clinical_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    restrict_therapists_to_assigned: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


#: how a consent to AI processing was obtained
CONSENT_METHODS = ("verbal", "written", "form", "portal")


class AiConsent(UUIDKey, TenantBase):
    """One change of a patient's consent to AI processing: given or withdrawn, how, by whom, when.

    Append-only: rows are only ever inserted, and a trigger (created with the table, here and in
    the tenant migration) refuses UPDATE. The patient's current state is on :class:`Patient`.
    """

    __tablename__ = "ai_consents"
    __table_args__ = (
        CheckConstraint("method IN ('verbal','written','form','portal')", name="method_valid"),
        Index("ix_ai_consents_patient_time", "patient_id", "recorded_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"))
    given: Mapped[bool] = mapped_column(Boolean)
    method: Mapped[str] = mapped_column(String(16))
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    recorded_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), default=utcnow, server_default=func.now()
    )


#: refuses any UPDATE of ``ai_consents`` (the history is append-only); same SQL as the migration
AI_CONSENTS_APPEND_ONLY = (
    "CREATE OR REPLACE FUNCTION ai_consents_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'ai_consents is append-only'; END $$",
    "CREATE TRIGGER ai_consents_no_update BEFORE UPDATE ON ai_consents "
    "FOR EACH ROW EXECUTE FUNCTION ai_consents_append_only()",
)
for _statement in AI_CONSENTS_APPEND_ONLY:
    event.listen(AiConsent.__table__, "after_create", DDL(_statement))
