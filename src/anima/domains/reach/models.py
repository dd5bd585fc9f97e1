"""Who asked not to receive the organization's marketing emails; SMS consents and outbound SMS.

``email_opt_outs`` holds one row per recipient address, keyed by the address's blind index (the
tenant's keyed HMAC of the normalized address, :mod:`anima.crypto.blind_index`), so an opt-out is
found without storing or decrypting the address. Transactional emails ignore it.
"""

from __future__ import annotations

import datetime
import uuid

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import (
    DDL, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, PrimaryKeyConstraint, String, Text, event,
    func, text,
)
from sqlalchemy.orm import Mapped, mapped_column

from anima.crypto.types import EncryptedText
from anima.db.base import PlatformBase, TenantBase, UUIDKey, utcnow

#: how an opt-out was recorded: the page's button, or a mail client's one-click POST (RFC 8058)
OPT_OUT_SOURCES = ("page", "one-click")


class EmailOptOut(TenantBase):
    """A recipient (by blind index) who opted out of marketing emails, when and how."""

    __tablename__ = "email_opt_outs"
    __table_args__ = (CheckConstraint("source IN ('page','one-click')", name="source_valid"),)

    recipient_bidx: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())


# -- SMS -------------------------------------------------------------------------------------------

#: how an SMS consent change was obtained: by the person in a form or by their word (verbal,
#: written), or their own STOP reply to one of our texts (``sms-stop``, withdrawal only)
SMS_CONSENT_METHODS = ("verbal", "written", "form", "portal", "sms-stop", "sms-start")


class SmsConsent(UUIDKey, TenantBase):
    """One change of a patient's (or a lead's: ``lead_id`` instead of ``patient_id``, exactly one of
    the two) consent to receive SMS: given or withdrawn, how, by whom, when.

    Append-only (a trigger refuses UPDATE, created with the table here and in the tenant
    migration); the current state is the patient's latest row. ``recorded_by`` is the staff
    member's user id, None for a STOP reply.
    """

    __tablename__ = "sms_consents"
    __table_args__ = (
        CheckConstraint("method IN ('verbal','written','form','portal','sms-stop','sms-start')", name="method_valid"),
        Index("ix_sms_consents_patient_time", "patient_id", "recorded_at"),
        Index("ix_sms_consents_lead_time", "lead_id", "recorded_at"),
        CheckConstraint("(patient_id IS NULL) <> (lead_id IS NULL)", name="one_person"),
    )

    patient_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"), nullable=True)
    lead_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("leads.id", ondelete="CASCADE"), nullable=True)
    given: Mapped[bool] = mapped_column(Boolean)
    method: Mapped[str] = mapped_column(String(16))
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    recorded_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())


#: refuses any UPDATE of ``sms_consents`` (the history is append-only); same SQL as the migration
SMS_CONSENTS_APPEND_ONLY = (
    "CREATE OR REPLACE FUNCTION sms_consents_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'sms_consents is append-only'; END $$",
    "CREATE TRIGGER sms_consents_no_update BEFORE UPDATE ON sms_consents "
    "FOR EACH ROW EXECUTE FUNCTION sms_consents_append_only()",
)
for _statement in SMS_CONSENTS_APPEND_ONLY:
    event.listen(SmsConsent.__table__, "after_create", DDL(_statement))

#: delivery states of an outbound SMS (as emails'; ``skipped``: no consent at sending time, or SMS off)
SMS_STATUSES = ("queued", "sending", "sent", "failed", "skipped")


class OutboundSms(UUIDKey, TenantBase):
    """An SMS to send once (``idempotency_key`` unique) to a patient or a lead: the number in E.164,
    encrypted, with its blind index (a STOP reply finds the patient by it); the delivery state as
    :class:`~anima.domains.automations.models.OutboundEmail`'s; ``provider_id`` is Twilio's SID."""

    __tablename__ = "outbound_sms"
    __table_args__ = (
        CheckConstraint("status IN ('queued','sending','sent','failed','skipped')", name="status_valid"),
        Index("ix_outbound_sms_due", "next_attempt_at", postgresql_where=text("status IN ('queued','sending')")),
        Index("ix_outbound_sms_to_bidx", "to_bidx"),
        CheckConstraint("(patient_id IS NULL) <> (lead_id IS NULL)", name="one_person"),
    )

    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"), nullable=True)
    #: the lead texted (instead of a patient)
    lead_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("leads.id", ondelete="CASCADE"), nullable=True)
    to_enc: Mapped[bytes] = mapped_column(EncryptedText)
    to_bidx: Mapped[bytes] = mapped_column(LargeBinary)
    template: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())
    sent_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class SmsRecipient(PlatformBase):
    """Which organizations texted a phone number (platform): keyed by an HMAC of the E.164 number
    under a key derived from ``ANIMA_SECRET_KEY``, never the number. A STOP reply arrives for the
    platform's Twilio number, not an organization's: this finds every organization to tell."""

    __tablename__ = "sms_recipients"
    __table_args__ = (PrimaryKeyConstraint("number_hmac", "tenant_id", name="pk_sms_recipients"),)

    number_hmac: Mapped[bytes] = mapped_column(LargeBinary)
    tenant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("platform.tenants.id", ondelete="CASCADE"))
    last_sent_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())
