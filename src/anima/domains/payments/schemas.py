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
