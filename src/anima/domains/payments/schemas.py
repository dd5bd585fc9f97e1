"""Bodies of the payments API. Amounts are whole minor units (cents) of an ISO 4217 currency,
1 to 100,000,000; descriptions at most 200 characters."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

import msgspec

from anima.request_body import RequestBody

Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code, e.g. EUR")]


class PaymentCreate(RequestBody):
    patient_id: uuid.UUID
    amount_minor: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]
    currency: Currency
    description: Annotated[str, msgspec.Meta(max_length=200, pattern=r"^[^\x00-\x1f\x7f<>]*$")] = ""


class PaymentFailure(RequestBody):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f<>]+$")]


class PaymentOut(msgspec.Struct):
    id: uuid.UUID
    patient_id: uuid.UUID
    amount_minor: int
    currency: str
    description: str
    status: str
    failure_reason: str | None
    settled_at: datetime.datetime | None
    created_at: datetime.datetime
    #: ``manual`` (cash, bank transfer) or ``stripe`` once paid
    method: str | None = None
    refunded_minor: int = 0
    booking_id: uuid.UUID | None = None
    #: the public pay link (redirects to Stripe Checkout) while PENDING
    pay_path: str | None = None


class RefundCreate(RequestBody):
    """A refund: ``amount_minor`` omitted refunds everything left."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f<>]+$")]
    amount_minor: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)] | None = None


class RefundOut(msgspec.Struct):
    id: uuid.UUID
    payment_id: uuid.UUID
    seq: int
    amount_minor: int
    reason: str
    stripe_refund_id: str | None
    created_at: datetime.datetime


class ConnectStart(RequestBody):
    """Where Stripe sends the owner back after onboarding (a path of this site, e.g. ``/o/acme/settings``)."""

    return_path: Annotated[str, msgspec.Meta(max_length=300, pattern=r"^/[A-Za-z0-9/_\-.?=&]*$")] = "/"


class ConnectOut(msgspec.Struct):
    """Whether patients can pay the practice online, and its Stripe account's state.

    ``status``: ``not_configured`` (no Stripe settings: payments are off; cash and bank transfers
    are still recorded by staff), ``not_connected``, ``details_needed``, ``enabled`` or ``restricted``.
    """

    status: str
    payments_on: bool
    account_id: str | None = None
    charges_enabled: bool = False
    payouts_enabled: bool = False
    details_submitted: bool = False
    currently_due: list[str] = msgspec.field(default_factory=list)
    disabled_reason: str | None = None
    application_fee_bps: int = 0
    onboarding_url: str | None = None


class EarningsOut(msgspec.Struct):
    """One therapist's earnings in one currency (minor units; currencies are never summed together)."""

    therapist_id: uuid.UUID | None
    currency: str
    sessions: int
    gross_minor: int
    fees_minor: int
    refunds_minor: int
    net_minor: int
    #: the therapist's shares of these bookings transferred to them (not reversed), and owed but not yet sent
    paid_out_minor: int = 0
    pending_minor: int = 0


class PayoutIn(RequestBody):
    """A therapist's payout: ``connect`` to their Stripe account ``stripe_account_id``, or
    ``outside`` (the practice pays them outside Anima); ``share_bps`` of what was collected (0–10,000)."""

    mode: Annotated[str, msgspec.Meta(pattern=r"^(connect|outside)$", description="connect or outside")]
    share_bps: Annotated[int, msgspec.Meta(ge=0, le=10_000)]
    stripe_account_id: Annotated[str, msgspec.Meta(pattern=r"^acct_[A-Za-z0-9]{1,250}$")] | None = None


class PayoutOut(msgspec.Struct):
    staff_id: uuid.UUID
    mode: str
    stripe_account_id: str | None
    share_bps: int
    updated_at: datetime.datetime


class TransferOut(msgspec.Struct):
    """A therapist's share of one completed booking (minor units of ``currency``)."""

    booking_id: uuid.UUID
    therapist_id: uuid.UUID | None
    currency: str
    share_bps: int
    due_minor: int
    amount_minor: int
    reversed_minor: int
    status: str
    stripe_transfer_id: str | None
    updated_at: datetime.datetime


class ReceiptOut(msgspec.Struct):
    """A receipt (``seq`` 0) or refund notice (``seq`` n) of a payment."""

    number: str
    seq: int
    amount_minor: int
    created_at: datetime.datetime
