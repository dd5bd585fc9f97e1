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
