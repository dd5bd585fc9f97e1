"""Payment requests: what a patient owes the organization, and whether it was paid.

An amount in minor units of an ISO 4217 currency, a status PENDING -> SUCCEEDED | FAILED. Staff
record cash and bank transfers by hand (``method`` ``manual``); card payments go through Stripe
Checkout on the practice's connected account (``method`` ``stripe``): the request's ``pay_token``
makes its public pay link, the Checkout Session, PaymentIntent and account it was paid on are kept
so refunds go back to the same account. ``refunded_minor`` is the total refunded so far (never more
than the amount); each refund is a ``payment_refunds`` row numbered per payment (``seq``), the
number being part of the refund's Stripe idempotency key.
"""

from __future__ import annotations

import datetime
import uuid

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import TenantBase, Timestamps, UUIDKey, utcnow

STATUSES = ("PENDING", "SUCCEEDED", "FAILED")


class PaymentRequest(UUIDKey, Timestamps, TenantBase):
    """A payment a patient is asked to make."""

    __tablename__ = "payment_requests"
    __table_args__ = (
        CheckConstraint("status IN ('PENDING','SUCCEEDED','FAILED')", name="status_valid"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("ix_payment_requests_patient", "patient_id", "created_at"),
        Index("ix_payment_requests_status", "status", "created_at"),
        Index("uq_payment_requests_pay_token", "pay_token", unique=True),
        Index("uq_payment_requests_checkout", "checkout_session_id", unique=True),
        Index("ix_payment_requests_intent", "payment_intent_id"),
        CheckConstraint("refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refund_within_amount"),
        CheckConstraint("method IN ('manual','stripe')", name="method_valid"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"))
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(10), default="PENDING")
    created_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    settled_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: how it was paid: ``manual`` (cash, bank transfer, recorded by staff) or ``stripe``
    method: Mapped[str | None] = mapped_column(String(10), nullable=True)
    #: the secret of the public pay link (``/api/v1/pay/{slug}/{token}``)
    pay_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: the booking it is for, when a booking asked for it (no foreign key: bookings own their rows)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    checkout_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    checkout_expires_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    #: how many Checkout Sessions were opened (part of the next one's idempotency key)
    checkout_attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    application_fee_minor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    refunded_minor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class PaymentRefund(UUIDKey, TenantBase):
    """One refund of a payment, by an owner: the ``seq``-th of its payment, never more than what is left."""

    __tablename__ = "payment_refunds"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("uq_payment_refunds_seq", "payment_id", "seq", unique=True),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("payment_requests.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200), default="")
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())


class PaymentReceipt(UUIDKey, TenantBase):
    """A receipt (``seq`` 0) or refund notice (``seq`` n: the payment's n-th refund) sent to the
    patient once: unique per (payment, seq), numbered in one series per practice (``number``)."""

    __tablename__ = "payment_receipts"
    __table_args__ = (
        CheckConstraint("seq >= 0", name="seq_nonnegative"),
        CheckConstraint("number > 0", name="number_positive"),
        Index("uq_payment_receipts_payment", "payment_id", "seq", unique=True),
        Index("uq_payment_receipts_number", "number", unique=True),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("payment_requests.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())


PAYOUT_MODES = ("connect", "outside")


class TherapistPayout(TenantBase):
    """How a therapist is paid their share: ``connect`` (a Stripe Transfer to their connected
    account ``stripe_account_id``) or ``outside`` (the practice pays them outside Anima), and the
    share of what was collected for their sessions in basis points (0–10,000). Set by owners."""

    __tablename__ = "therapist_payouts"
    __table_args__ = (
        CheckConstraint("mode IN ('connect','outside')", name="mode_valid"),
        CheckConstraint("share_bps BETWEEN 0 AND 10000", name="share_range"),
        CheckConstraint("(mode = 'connect') = (stripe_account_id IS NOT NULL)", name="account_when_connect"),
    )

    staff_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10))
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    share_bps: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())


TRANSFER_STATUSES = ("pending", "transferred", "returned", "outside")


class BookingTransfer(TenantBase):
    """The therapist's share of one completed booking: ``pending`` (owed, not yet sent),
    ``transferred`` (a Stripe Transfer of ``amount_minor``, less ``reversed_minor`` returned so
    far), ``returned`` (all of it reversed) or ``outside`` (paid by the practice outside Anima).
    One row per booking (no foreign key: bookings own their rows); ``reversals`` numbers the
    reversal idempotency keys."""

    __tablename__ = "booking_transfers"
    __table_args__ = (
        CheckConstraint("status IN ('pending','transferred','returned','outside')", name="status_valid"),
        CheckConstraint("amount_minor >= 0 AND reversed_minor >= 0 AND reversed_minor <= amount_minor", name="amounts_valid"),
        CheckConstraint("due_minor >= 0", name="due_nonnegative"),
        Index("ix_booking_transfers_therapist", "therapist_id", "status"),
    )

    booking_id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True)
    therapist_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    share_bps: Mapped[int] = mapped_column(Integer)
    #: the therapist's share of what is collected now (collected minus refunds, times share_bps, rounded down)
    due_minor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    amount_minor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reversed_minor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reversals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(12))
    destination: Mapped[str | None] = mapped_column(String(255), nullable=True)
    stripe_transfer_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())


class SavedCard(UUIDKey, Timestamps, TenantBase):
    """A client's consent to keep the card of a booking's Checkout for late-cancellation and
    no-show fees, and what Stripe said of that card.

    Written when the client ticks the box (``consented_at``, ``consent_version``: the wording's
    version, the booking and the payment request); ``customer_id`` and ``payment_method_id`` (on
    the practice's account ``stripe_account_id``) come later from the payment's webhooks."""

    __tablename__ = "saved_cards"
    __table_args__ = (
        Index("uq_saved_cards_payment", "payment_id", unique=True),
        Index("ix_saved_cards_patient", "patient_id", "created_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"))
    booking_id: Mapped[uuid.UUID] = mapped_column(GUID)
    payment_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("payment_requests.id", ondelete="CASCADE"))
    consented_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    consent_version: Mapped[str] = mapped_column(String(20))
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    customer_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    payment_method_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
