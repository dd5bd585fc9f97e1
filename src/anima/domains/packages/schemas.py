"""Bodies of the packages API. Prices are integers in minor units of an ISO 4217 currency; a package
has one price per currency (at most 10), 1 to 1,000 sessions, and a validity of 1 to 3,660 days."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

import msgspec

from anima.request_body import RequestBody

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f<>]+$")]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f<>]+$")]
Currency = Annotated[str, msgspec.Meta(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
Minor = Annotated[int, msgspec.Meta(ge=1, le=100_000_000, description="minor units of the currency")]


class PriceIn(RequestBody):
    currency: Currency
    amount_minor: Minor


class PackageCreate(RequestBody):
    name: Name
    sessions: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    validity_days: Annotated[int, msgspec.Meta(ge=1, le=3660)]
    prices: Annotated[list[PriceIn], msgspec.Meta(min_length=1, max_length=10)]
    service_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = []


class PackageUpdate(PackageCreate):
    """A package redefined as a whole (prices and services replaced); ``active`` false stops its
    sale. Sales already made keep what they froze (price, sessions, expiry)."""

    active: bool = True


class PriceOut(msgspec.Struct):
    currency: str
    amount_minor: int


class PackageOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    sessions: int
    validity_days: int
    active: bool
    prices: list[PriceOut]
    service_ids: list[uuid.UUID]


class SaleCreate(RequestBody):
    """A sale: ``recorded`` (paid in cash or by transfer, credits at once) or ``online`` (a payment
    request whose pay link goes to Checkout; credits once Stripe says it is paid)."""

    patient_id: uuid.UUID
    currency: Currency
    mode: Literal["recorded", "online"] = "recorded"


class SaleOut(msgspec.Struct):
    id: uuid.UUID
    package_id: uuid.UUID
    patient_id: uuid.UUID
    currency: str
    amount_minor: int
    sessions: int
    expires_at: datetime.datetime
    status: str
    balance: int
    payment_id: uuid.UUID | None


class Adjustment(RequestBody):
    """A manual correction of a sale's credits (positive adds, negative removes), with its reason."""

    delta: Annotated[int, msgspec.Meta(ge=-1000, le=1000)]
    reason: Reason


class EntryOut(msgspec.Struct):
    id: uuid.UUID
    sale_id: uuid.UUID
    kind: str
    delta: int
    booking_id: uuid.UUID | None
    reason: str
    created_at: datetime.datetime


class BalanceOut(msgspec.Struct):
    patient_id: uuid.UUID
    balance: int
    sales: list[SaleOut]
    entries: list[EntryOut]


class SaleRefund(RequestBody):
    reason: Reason


class SaleRefundOut(msgspec.Struct):
    """What was refunded: the unused credits taken off and the money (minor units of the sale's currency)."""

    sale_id: uuid.UUID
    credits: int
    amount_minor: int


class CreditRuleBody(RequestBody):
    """How bookings use credits: whether a no-show keeps its credit used, and what a booking does
    when the patient's valid packages for the service have no credit left (``PAY`` the service's
    price, or ``REFUSE`` with a 409)."""

    no_show_uses_credit: bool
    when_exhausted: Literal["PAY", "REFUSE"]


class CreditRuleOut(msgspec.Struct):
    """The rule in force (``service_id`` null: the organization's; ``own``: whether this level has its own row)."""

    service_id: uuid.UUID | None
    no_show_uses_credit: bool
    when_exhausted: str
    own: bool


class BookingCreditOut(msgspec.Struct):
    """A booking's package credit: ``covered`` false when it used none (it pays the service's price)."""

    booking_id: uuid.UUID
    covered: bool
    sale_id: uuid.UUID | None
    package_name: str | None
    left: int | None
    returned: bool
