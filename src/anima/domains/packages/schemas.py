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
