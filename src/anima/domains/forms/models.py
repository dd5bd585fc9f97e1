"""Forms: the organization's forms and their versions, one-time assignments, and submissions.

* :class:`Form` — a form the organization distributes: its own template (built by an owner where
  the plan has ``custom_forms``) or its copy of a system template in one language
  (``system_key``); ``key`` names it for playbooks (``assign_form``); ``public_token`` is the
  opaque token of its public link (none: no public link).
* :class:`FormVersion` — one version's definition (JSON, not clinical: questions, not answers).
  Editing a form adds a version; versions are never changed.
* :class:`FormAssignment` — a one-time link for one patient: only the SHA-256 of its token is
  kept; single use (``used_at``), expiring (``expires_at``), revocable (``revoked_at``).
* :class:`FormSubmission` — the answers (encrypted JSON ``answers_enc``), the person details the
  mapped fields gave (encrypted ``person_enc``), the scores and the screening (encrypted
  ``scores_enc``: clinical), the exact version answered, the patient (none for an anonymous public
  submission), the assignment used and the journal entry it became.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anima.crypto.types import EncryptedJSON
from anima.db.base import TenantBase, Timestamps, UUIDKey, utcnow


class Form(UUIDKey, Timestamps, TenantBase):
    """A form of the organization (see the module docstring)."""

    __tablename__ = "forms"
    __table_args__ = (
        UniqueConstraint("key", name="uq_forms_key"),
        UniqueConstraint("public_token", name="uq_forms_public_token"),
    )

    key: Mapped[str] = mapped_column(String(60))
    system_key: Mapped[str | None] = mapped_column(String(20), nullable=True)
    language: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    public_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    archived_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class FormVersion(UUIDKey, TenantBase):
    """One immutable version of a form's definition."""

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "version", name="uq_form_versions_form_version"),)

    form_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("forms.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JsonB)
    created_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class FormAssignment(UUIDKey, TenantBase):
    """A one-time link of a form version for one patient (token kept as its SHA-256 only)."""

    __tablename__ = "form_assignments"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_form_assignments_token_hash"),
        Index("ix_form_assignments_patient", "patient_id", "created_at"),
    )

    form_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("forms.id", ondelete="CASCADE"))
    version_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("form_versions.id", ondelete="CASCADE"))
    patient_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    used_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    #: who assigned it (a member; none when a playbook did)
    created_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    #: the playbook run that assigned it, if any
    run_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    emailed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class FormSubmission(UUIDKey, TenantBase):
    """A completed form (see the module docstring)."""

    __tablename__ = "form_submissions"
    __table_args__ = (
        UniqueConstraint("assignment_id", name="uq_form_submissions_assignment"),
        Index("ix_form_submissions_patient_measure", "patient_id", "measure", "submitted_at"),
        Index("ix_form_submissions_form", "form_id", "submitted_at"),
    )

    form_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("forms.id", ondelete="CASCADE"))
    version_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("form_versions.id", ondelete="CASCADE"))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"), nullable=True)
    assignment_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("form_assignments.id", ondelete="SET NULL"), nullable=True)
    journal_entry_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    #: the scored measure answered (``phq9``/``gad7``), for a patient's series; none for other forms
    measure: Mapped[str | None] = mapped_column(String(8), nullable=True)
    language: Mapped[str] = mapped_column(String(8))
    answers_enc: Mapped[bytes] = mapped_column(EncryptedJSON)
    person_enc: Mapped[bytes | None] = mapped_column(EncryptedJSON, nullable=True)
    scores_enc: Mapped[bytes | None] = mapped_column(EncryptedJSON, nullable=True)
    submitted_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
