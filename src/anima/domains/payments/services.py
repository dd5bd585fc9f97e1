"""Rules of payment requests: PENDING -> SUCCEEDED | FAILED, each change with its event.

Owners and assistants create and settle them (guarded at the route); therapists read those of
the patients they may see (anima.domains.patients.visibility.visible) when the clinical policy
restricts them, all otherwise. Each change emits PAYMENT_REQUESTED, PAYMENT_SUCCEEDED or
PAYMENT_FAILED in its transaction.
"""

from __future__ import annotations

import datetime
import uuid

import sqlalchemy as sa
from babel.numbers import list_currencies
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.patients.models import Patient
from anima.domains.patients.visibility import get_patient
from anima.domains.patients.visibility import Viewer, visible
from anima.domains.payments.models import PaymentRequest
from anima.domains.payments.schemas import PaymentCreate, PaymentOut
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.problems import Conflict, InvalidInput, NotFound

_CURRENCIES = frozenset(list_currencies())


def to_out(p: PaymentRequest) -> PaymentOut:
    return PaymentOut(p.id, p.patient_id, p.amount_minor, p.currency, p.description, p.status, p.failure_reason, p.settled_at, p.created_at)


async def create(session: AsyncSession, viewer: Viewer, data: PaymentCreate) -> PaymentRequest:
    """Ask a patient for a payment. Raises InvalidInput (unknown currency, unknown patient)."""
    currency = data.currency.upper()
    if currency not in _CURRENCIES:
        raise InvalidInput.field("currency", "iso4217", f"{data.currency!r} is not an ISO 4217 currency")
    try:
        patient = await get_patient(session, viewer, data.patient_id)
    except NotFound:
        raise InvalidInput.field("patient_id", "patient", "no such patient in this organization") from None
    payment = PaymentRequest(
        id=uuid.uuid4(), patient_id=patient.id, amount_minor=data.amount_minor, currency=currency,
        description=data.description.strip(), status="PENDING", created_by=viewer.user_id,
    )
    session.add(payment)
    await session.flush()
    await emit(session, EventType.PAYMENT_REQUESTED, _payload(payment), actor_id=viewer.user_id)
    await session.refresh(payment)
    return payment


def _payload(p: PaymentRequest) -> dict[str, object]:
    return {"payment_id": str(p.id), "patient_id": str(p.patient_id), "amount_minor": p.amount_minor, "currency": p.currency}


async def get(session: AsyncSession, viewer: Viewer, payment_id: uuid.UUID) -> PaymentRequest:
    row = (await session.execute(
        sa.select(PaymentRequest).join(Patient, Patient.id == PaymentRequest.patient_id)
        .where(PaymentRequest.id == payment_id, *visible(viewer))
    )).scalar_one_or_none()
    if row is None:
        raise NotFound("payment not found")
    return row


async def list_payments(
    session: AsyncSession, viewer: Viewer, *, limit: int, offset: int, status: str | None = None, patient_id: uuid.UUID | None = None
) -> tuple[list[PaymentRequest], int]:
    where = list(visible(viewer))
    if status:
        where.append(PaymentRequest.status == status)
    if patient_id:
        where.append(PaymentRequest.patient_id == patient_id)
    base = sa.select(PaymentRequest).join(Patient, Patient.id == PaymentRequest.patient_id).where(*where)
    total = (await session.execute(sa.select(sa.func.count()).select_from(base.subquery()))).scalar_one()
    rows = (await session.execute(base.order_by(PaymentRequest.created_at.desc(), PaymentRequest.id).limit(limit).offset(offset))).scalars()
    return list(rows), total


async def settle(
    session: AsyncSession, viewer: Viewer, payment_id: uuid.UUID, *, succeeded: bool, reason: str | None = None
) -> PaymentRequest:
    """Mark a PENDING payment paid or failed (409 otherwise); emits its event."""
    payment = await get(session, viewer, payment_id)
    if payment.status != "PENDING":
        raise Conflict(f"this payment is already {payment.status}", extra={"state": payment.status})
    payment.status = "SUCCEEDED" if succeeded else "FAILED"
    payment.settled_at = datetime.datetime.now(datetime.UTC)
    payment.failure_reason = None if succeeded else reason
    await session.flush()
    await emit(session, EventType.PAYMENT_SUCCEEDED if succeeded else EventType.PAYMENT_FAILED, _payload(payment), actor_id=viewer.user_id)
    return payment
