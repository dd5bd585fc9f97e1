"""Leads: prospects in the pipeline before they become patients, and their possible duplicates.

Everything that identifies or describes the person is encrypted (``crypto/types.py``, as patients'
contact details): first and last name, email, phone, notes and the reason a lead was lost. Email
and phone carry keyed blind indexes (``email_bidx``, ``phone_bidx``) for equality lookup — the
duplicate check against other leads and patients. Names have no index: nobody looks a prospect up
by exact name, and lists are ordered by time, not name. Plaintext columns are what the pipeline
needs and is not about the person's health: stage, source, language, time zone, the ids of the
form, service, staff member and patient, and the timestamps.

Ghost clock: ``ghosted_at`` is when the ghost detector (:mod:`anima.domains.leads.ghosts`) reported
the lead as a ghost (no contact for over 7 days); a contact clears it, so a lead going quiet again
is reported again. A merged lead keeps its row, with ``merged_into_id`` naming the lead it was
merged into; it leaves every list.
"""

from __future__ import annotations

import datetime
import uuid

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from anima.crypto.types import EncryptedText
from anima.db.base import TenantBase, Timestamps, UUIDKey, utcnow

#: where a lead came from
SOURCES = ("PUBLIC_FORM", "BOOKING", "MANUAL", "REFERRAL", "AD", "SOCIAL", "OTHER")


class Lead(UUIDKey, Timestamps, TenantBase):
    """A prospect. See the module docstring for which columns are encrypted."""

    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint("stage IN ('NEW','CONTACTED','QUALIFIED','CONVERTED','LOST')", name="stage_valid"),
        CheckConstraint(
            "source IN ('PUBLIC_FORM','BOOKING','MANUAL','REFERRAL','AD','SOCIAL','OTHER')", name="source_valid"
        ),
        CheckConstraint("(stage = 'CONVERTED') = (patient_id IS NOT NULL)", name="converted_has_patient"),
        Index("ix_leads_email_bidx", "email_bidx"),
        Index("ix_leads_phone_bidx", "phone_bidx"),
        Index("ix_leads_stage_created", "stage", "created_at"),
        # what the ghost detector scans: open leads not merged and not yet reported
        Index(
            "ix_leads_ghost_clock", "last_contacted_at", "created_at",
            postgresql_where=text("ghosted_at IS NULL AND merged_into_id IS NULL AND stage IN ('NEW','CONTACTED','QUALIFIED')"),
        ),
    )

    first_name_enc: Mapped[bytes] = mapped_column(EncryptedText)
    last_name_enc: Mapped[bytes | None] = mapped_column(EncryptedText, nullable=True)
    email_enc: Mapped[bytes | None] = mapped_column(EncryptedText, nullable=True)
    email_bidx: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    phone_enc: Mapped[bytes | None] = mapped_column(EncryptedText, nullable=True)
    phone_bidx: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    notes_enc: Mapped[bytes | None] = mapped_column(EncryptedText, nullable=True)
    language: Mapped[str | None] = mapped_column(String(35), nullable=True)
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str] = mapped_column(String(16))
    #: the form template and submission a PUBLIC_FORM lead came from (the forms domain's ids)
    form_template_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    submission_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    interested_service_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("services.id", ondelete="SET NULL"), nullable=True
    )
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("staff.id", ondelete="SET NULL"), nullable=True, index=True
    )
    stage: Mapped[str] = mapped_column(String(16), default="NEW")
    stage_changed_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), default=utcnow, server_default=func.now()
    )
    lost_reason_enc: Mapped[bytes | None] = mapped_column(EncryptedText, nullable=True)
    last_contacted_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    ghosted_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("patients.id", ondelete="SET NULL"), nullable=True
    )
    converted_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("leads.id", ondelete="SET NULL"), nullable=True
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)


class LeadDuplicate(UUIDKey, TenantBase):
    """A possible duplicate: ``lead_id`` matched an older lead or a patient on email and/or phone
    (``matched_on``: ``email``, ``phone`` or ``email,phone``). ``status`` is ``open`` until staff
    merge it (``merged``, leads only) or dismiss it (``dismissed``); who and when are kept."""

    __tablename__ = "lead_duplicates"
    __table_args__ = (
        CheckConstraint("status IN ('open','merged','dismissed')", name="status_valid"),
        CheckConstraint("(match_lead_id IS NULL) <> (match_patient_id IS NULL)", name="one_match"),
        UniqueConstraint("lead_id", "match_lead_id", name="uq_lead_duplicates_lead"),
        UniqueConstraint("lead_id", "match_patient_id", name="uq_lead_duplicates_patient"),
    )

    lead_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    match_lead_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("leads.id", ondelete="CASCADE"), nullable=True, index=True
    )
    match_patient_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("patients.id", ondelete="CASCADE"), nullable=True, index=True
    )
    matched_on: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), default="open")
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), default=utcnow, server_default=func.now()
    )
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    resolved_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
