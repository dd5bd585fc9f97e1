"""The clinical journal: a timeline of entries per patient, and amendments to signed entries.

Every entry's content (the sanitized HTML of a note, the data of a form submission, an audio
reference or an AI analysis) is one encrypted JSON document in ``content_enc``. A signed entry
(``signed_at`` set) is locked: later changes are :class:`JournalAmendment` rows, and the original
stays as it was signed.
"""

from __future__ import annotations

import datetime
import uuid

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from anima.crypto.types import EncryptedJSON
from anima.db.base import TenantBase, Timestamps, UUIDKey, utcnow

KINDS = ("note", "form_submission", "audio_reference", "ai_analysis")
VISIBILITIES = ("private", "shared")


class JournalEntry(UUIDKey, Timestamps, TenantBase):
    """One timeline entry: patient, author, time, kind, visibility, encrypted content, signature."""

    __tablename__ = "journal_entries"
    __table_args__ = (
        CheckConstraint("kind IN ('note','form_submission','audio_reference','ai_analysis')", name="kind_valid"),
        CheckConstraint("visibility IN ('private','shared')", name="visibility_valid"),
        Index("ix_journal_entries_patient_time", "patient_id", "occurred_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID] = mapped_column(GUID)
    kind: Mapped[str] = mapped_column(String(24))
    visibility: Mapped[str] = mapped_column(String(8))
    occurred_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    content_enc: Mapped[bytes] = mapped_column(EncryptedJSON)
    signed_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class JournalAmendment(UUIDKey, TenantBase):
    """A change to a signed entry: author, time and encrypted content (new text and reason)."""

    __tablename__ = "journal_amendments"

    entry_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("journal_entries.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[uuid.UUID] = mapped_column(GUID)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), default=utcnow, server_default=func.now()
    )
    content_enc: Mapped[bytes] = mapped_column(EncryptedJSON)
