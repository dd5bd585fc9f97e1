"""Bodies of the invoices API. Amounts are integers in minor units of one ISO 4217 currency per
invoice; rates are basis points (2100 = 21 %); at most 100 lines of at most 10,000 units each."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

import msgspec

from anima.request_body import RequestBody

Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f<>]+$")]
Bps = Annotated[int, msgspec.Meta(ge=0, le=10000, description="basis points: 100 = 1 %")]


class LineIn(RequestBody):
    description: Text200
    unit_minor: Annotated[int, msgspec.Meta(ge=0, le=100_000_000)]
    quantity: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1
    discount_bps: Bps = 0


class InvoiceCreate(RequestBody):
    """A DRAFT invoice for a patient."""

    patient_id: uuid.UUID
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]
    lines: Annotated[list[LineIn], msgspec.Meta(min_length=1, max_length=100)]
    payment_id: uuid.UUID | None = None


class InvoiceSettingsIn(RequestBody):
    prefix: Annotated[str, msgspec.Meta(min_length=1, max_length=12, pattern=r"^[A-Z0-9][A-Z0-9\-]*$")]
    tax_rate_bps: Bps
    tax_label: Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern=r"^[^\x00-\x1f\x7f<>]+$")] = "VAT"


class InvoiceSettingsOut(msgspec.Struct):
    prefix: str
    tax_rate_bps: int
    tax_label: str


class CreditNoteCreate(RequestBody):
    """A credit note correcting an issued invoice: by default every line, in full."""

    reason: Text200


class LineOut(msgspec.Struct):
    position: int
    description: str
    quantity: int
    unit_minor: int
    discount_bps: int
    net_minor: int


class InvoiceOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    status: str
    number: str | None
    patient_id: uuid.UUID
    corrects_id: uuid.UUID | None
    currency: str
    tax_rate_bps: int
    tax_label: str
    subtotal_minor: int
    discount_minor: int
    tax_minor: int
    total_minor: int
    language: str
    issued_at: datetime.datetime | None
    paid_at: datetime.datetime | None
    lines: list[LineOut]


class InvoiceEmailRequest(RequestBody):
    invoice_id: uuid.UUID


class InvoiceEmailOut(msgspec.Struct):
    invoice_id: uuid.UUID
    queued: bool
