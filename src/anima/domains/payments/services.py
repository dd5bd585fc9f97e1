"""Rules of payment requests: PENDING -> SUCCEEDED | FAILED, each change with its event.

Owners and assistants create and settle them (guarded at the route); therapists read those of
the patients they may see (anima.domains.patients.visibility.visible) when the clinical policy
restricts them, all otherwise. Each change emits PAYMENT_REQUESTED, PAYMENT_SUCCEEDED or
PAYMENT_FAILED in its transaction.

Card payments (Stripe Checkout on the practice's connected account) are opened by
:func:`open_checkout` and settled only by Stripe's signed webhooks through
:func:`apply_stripe_outcome`, which is order-independent: a success wins over a failure whatever
their order (a patient may retry a declined card in the same Checkout), a failure never undoes a
success, and the refunded total only grows (Stripe's ``amount_refunded`` is cumulative). Owners
refund through :func:`refund` (never more than what is left).
"""

from __future__ import annotations

import datetime
import secrets
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from babel.numbers import list_currencies
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.patients.models import Patient
from anima.domains.patients.visibility import get_patient
from anima.domains.patients.visibility import Viewer, visible
from anima.billing.plans import application_fee_minor
from anima.domains.payments.models import PaymentRefund, PaymentRequest
from anima.domains.payments.schemas import PaymentCreate, PaymentOut, RefundOut
from anima.domains.payments.stripe_connect import ConnectGateway
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.problems import Conflict, InvalidInput, NotFound

_CURRENCIES = frozenset(list_currencies())


def to_out(p: PaymentRequest, slug: str | None = None) -> PaymentOut:
    """The API shape; ``pay_path`` (the public pay link) when the organization's ``slug`` is given."""
    pay_path = f"/api/v1/pay/{slug}/{p.pay_token}" if slug and p.pay_token and p.status == "PENDING" else None
    return PaymentOut(
        p.id, p.patient_id, p.amount_minor, p.currency, p.description, p.status, p.failure_reason, p.settled_at, p.created_at,
        method=p.method, refunded_minor=p.refunded_minor, booking_id=p.booking_id, pay_path=pay_path,
    )


def refund_out(r: PaymentRefund) -> RefundOut:
    return RefundOut(r.id, r.payment_id, r.seq, r.amount_minor, r.reason, r.stripe_refund_id, r.created_at)


async def create(session: AsyncSession, viewer: Viewer, data: PaymentCreate) -> PaymentRequest:
    """Ask a patient for a payment. Raises InvalidInput (unknown currency, unknown patient)."""
    currency = data.currency.upper()
    if currency not in _CURRENCIES:
        raise InvalidInput.field("currency", "iso4217", f"{data.currency!r} is not an ISO 4217 currency")
    try:
        patient = await get_patient(session, viewer, data.patient_id)
    except NotFound:
        raise InvalidInput.field("patient_id", "patient", "no such patient in this organization") from None
    return await _insert(session, patient.id, data.amount_minor, currency, data.description.strip(), viewer.user_id, None)


async def _insert(
    session: AsyncSession, patient_id: uuid.UUID, amount_minor: int, currency: str, description: str,
    actor_id: uuid.UUID | None, booking_id: uuid.UUID | None,
) -> PaymentRequest:
    payment = PaymentRequest(
        id=uuid.uuid4(), patient_id=patient_id, amount_minor=amount_minor, currency=currency,
        description=description, status="PENDING", created_by=actor_id, pay_token=secrets.token_urlsafe(24),
        booking_id=booking_id,
    )
    session.add(payment)
    await session.flush()
    await emit(session, EventType.PAYMENT_REQUESTED, _payload(payment), actor_id=actor_id)
    await session.refresh(payment)
    return payment


async def request_payment(
    session: AsyncSession, *, patient_id: uuid.UUID, amount_minor: int, currency: str, description: str = "",
    booking_id: uuid.UUID | None = None, actor_id: uuid.UUID | None = None,
) -> PaymentRequest:
    """A PENDING payment request for other domains: a booking's deposit, full price or late fee
    (``booking_id``), a package sold online. Its ``pay_token`` makes the pay link
    (``/api/v1/pay/{slug}/{pay_token}``). The patient must exist (the caller checked visibility). Raises InvalidInput (amount outside 1..100,000,000, unknown currency)."""
    currency = currency.upper()
    if currency not in _CURRENCIES:
        raise InvalidInput.field("currency", "iso4217", f"{currency!r} is not an ISO 4217 currency")
    if not 1 <= amount_minor <= 100_000_000:
        raise InvalidInput.field("amount_minor", "range", "between 1 and 100000000 minor units")
    return await _insert(session, patient_id, amount_minor, currency, description[:200], actor_id, booking_id)


def _payload(p: PaymentRequest) -> dict[str, object]:
    """The event payload: ids and amounts (``booking_id`` when a booking asked for the payment)."""
    payload: dict[str, object] = {"payment_id": str(p.id), "patient_id": str(p.patient_id), "amount_minor": p.amount_minor, "currency": p.currency}
    if p.booking_id is not None:
        payload["booking_id"] = str(p.booking_id)
    return payload


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
    payment.method = "manual" if succeeded else None
    payment.settled_at = datetime.datetime.now(datetime.UTC)
    payment.failure_reason = None if succeeded else reason
    await session.flush()
    await emit(session, EventType.PAYMENT_SUCCEEDED if succeeded else EventType.PAYMENT_FAILED, _payload(payment), actor_id=viewer.user_id)
    return payment


async def by_token(session: AsyncSession, token: str, *, lock: bool = False) -> PaymentRequest:
    """The payment request of a pay link. Raises NotFound."""
    query = sa.select(PaymentRequest).where(PaymentRequest.pay_token == token)
    row = (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
    if row is None:
        raise NotFound("no such payment link")
    return row


#: a stored Checkout Session is reused while it has at least this long to live
_CHECKOUT_MARGIN = datetime.timedelta(minutes=5)


async def open_checkout(
    session: AsyncSession, gateway: ConnectGateway, payment: PaymentRequest, *, account_id: str, tier: str,
    success_url: str, cancel_url: str, tenant_id: int,
) -> str:
    """The Checkout URL of a PENDING request on the practice's account ``account_id``.

    Reuses the stored session while it is valid; otherwise opens attempt ``n+1`` with the
    idempotency key ``anima-checkout-{payment_id}-{n+1}`` and the tier's application fee
    (:func:`anima.billing.plans.application_fee_minor`). Call it with the payment row locked
    (:func:`by_token` with ``lock=True``), in the tenant's transaction.

    Raises:
        Conflict: the request is not PENDING (409, ``state`` says which).
        anima.billing.stripe_client.PaymentProviderError: Stripe refused (502).
    """
    if payment.status != "PENDING":
        raise Conflict(f"this payment is already {payment.status}", extra={"state": payment.status})
    now = datetime.datetime.now(datetime.UTC)
    extra = None
    if payment.booking_id is not None:  # a booking's payment: its hold's rules (anima.domains.payments.booking_checkout)
        from anima.domains.payments.booking_checkout import checkout_extra
        extra = await checkout_extra(session, payment, now=now)
    if (payment.checkout_url and payment.stripe_account_id == account_id and payment.checkout_expires_at
            and payment.checkout_expires_at > now + _CHECKOUT_MARGIN):
        return payment.checkout_url
    attempt = payment.checkout_attempt + 1
    fee = application_fee_minor(tier, payment.amount_minor)
    checkout = await gateway.create_payment_checkout(
        account_id=account_id, idempotency_key=f"anima-checkout-{payment.id}-{attempt}", amount_minor=payment.amount_minor,
        currency=payment.currency, description=payment.description, application_fee_minor=fee,
        metadata={"tenant_id": str(tenant_id), "payment_id": str(payment.id)},
        success_url=success_url, cancel_url=cancel_url, extra=extra,
    )
    payment.checkout_attempt = attempt
    payment.checkout_session_id = checkout.id
    payment.checkout_url = checkout.url
    payment.checkout_expires_at = checkout.expires_at
    payment.stripe_account_id = account_id
    payment.application_fee_minor = fee
    await session.flush()
    return checkout.url


@dataclass(frozen=True)
class StripeOutcome:
    """What a verified Stripe event says about one payment request.

    ``kind``: ``succeeded``, ``failed`` or ``refunded``; ``amount_refunded``: Stripe's cumulative
    refunded total for the charge, as far as any event received says.
    """

    payment_id: uuid.UUID | None
    kind: str
    account_id: str
    payment_intent: str | None = None
    amount_refunded: int = 0
    reason: str | None = None


async def apply_stripe_outcome(session: AsyncSession, outcome: StripeOutcome) -> str:
    """Apply ``outcome`` to its request, order-independently (see the module docstring).

    Returns ``applied`` or ``unchanged`` (also for an unknown request or another account's event:
    a webhook is never refused for what it says, only for how it is signed).
    """
    if outcome.payment_id is not None:
        where = PaymentRequest.id == outcome.payment_id
    elif outcome.payment_intent:
        where = PaymentRequest.payment_intent_id == outcome.payment_intent
    else:
        return "unchanged"
    payment = (await session.execute(sa.select(PaymentRequest).where(where).with_for_update())).scalars().first()
    if payment is None or (payment.stripe_account_id and payment.stripe_account_id != outcome.account_id):
        return "unchanged"
    if outcome.payment_intent and not payment.payment_intent_id:
        payment.payment_intent_id = outcome.payment_intent
    changed = False
    if outcome.kind == "succeeded" and payment.status != "SUCCEEDED":
        payment.status, payment.method, payment.failure_reason = "SUCCEEDED", "stripe", None
        payment.settled_at = datetime.datetime.now(datetime.UTC)
        payment.stripe_account_id = payment.stripe_account_id or outcome.account_id
        await session.flush()
        await emit(session, EventType.PAYMENT_SUCCEEDED, _payload(payment))
        changed = True
    elif outcome.kind == "failed" and payment.status == "PENDING":
        payment.status, payment.failure_reason = "FAILED", (outcome.reason or "the card payment failed")[:200]
        payment.settled_at = datetime.datetime.now(datetime.UTC)
        await session.flush()
        await emit(session, EventType.PAYMENT_FAILED, _payload(payment))
        changed = True
    if outcome.amount_refunded and (payment.status == "SUCCEEDED" or outcome.kind == "refunded"):
        total = min(payment.amount_minor, max(payment.refunded_minor, outcome.amount_refunded))
        if total != payment.refunded_minor:
            payment.refunded_minor = total
            changed = True
    await session.flush()
    return "applied" if changed else "unchanged"


async def refund(
    session: AsyncSession, gateway: ConnectGateway | None, viewer: Viewer, payment_id: uuid.UUID, *, amount_minor: int | None,
    reason: str,
) -> PaymentRefund:
    """Refund part or all of a SUCCEEDED payment the ``viewer`` may see (owners; guarded at the
    route). See :func:`refund_payment` for the rules and errors."""
    await get(session, viewer, payment_id)
    return await refund_payment(session, gateway, payment_id, amount_minor=amount_minor, reason=reason, actor_id=viewer.user_id)


async def refund_payment(
    session: AsyncSession, gateway: ConnectGateway | None, payment_id: uuid.UUID, *, amount_minor: int | None, reason: str,
    actor_id: uuid.UUID | None = None,
) -> PaymentRefund:
    """Refund part or all of a SUCCEEDED payment — for owners (through :func:`refund`) and for the
    booking engine (a success that arrived after its hold expired, a cancellation's policy).

    ``amount_minor`` None refunds what is left. The payment row is locked, so concurrent refunds
    never exceed what was paid. A card payment is refunded on its Stripe account with the
    idempotency key ``anima-refund-{payment_id}-{seq}`` (``seq``: this refund's number), so a
    refund retried after a crash finds Stripe's first refund; a manual one is recorded only (the
    money goes back the way it came, by hand). Needs ``gateway`` for card payments.

    Raises:
        NotFound: no such payment.
        Conflict: not SUCCEEDED, or nothing left to refund (409).
        InvalidInput: ``amount_minor`` more than what is left (field ``amount_minor``, rule ``refundable``).
        anima.billing.stripe_client.PaymentsNotConfigured: a card payment and no Stripe settings.
        anima.billing.stripe_client.PaymentProviderError: Stripe refused (502; nothing recorded).
    """
    payment = (await session.execute(
        sa.select(PaymentRequest).where(PaymentRequest.id == payment_id).with_for_update()
    )).scalar_one_or_none()
    if payment is None:
        raise NotFound("payment not found")
    if payment.status != "SUCCEEDED":
        raise Conflict(f"only a succeeded payment can be refunded; this one is {payment.status}", extra={"state": payment.status})
    left = payment.amount_minor - payment.refunded_minor
    if left <= 0:
        raise Conflict("this payment is already fully refunded", extra={"state": "REFUNDED"})
    amount = left if amount_minor is None else amount_minor
    if amount > left:
        raise InvalidInput.field("amount_minor", "refundable", f"at most {left} minor units are left to refund")
    seq = (await session.scalar(
        sa.select(sa.func.coalesce(sa.func.max(PaymentRefund.seq), 0)).where(PaymentRefund.payment_id == payment.id)
    )) + 1
    stripe_refund_id = None
    if payment.method == "stripe":
        if gateway is None:
            from anima.billing.stripe_client import PaymentsNotConfigured
            raise PaymentsNotConfigured()
        if not payment.payment_intent_id or not payment.stripe_account_id:
            raise Conflict("Stripe has not told Anima which charge paid this request yet", extra={"state": payment.status})
        stripe_refund_id = await gateway.refund(
            account_id=payment.stripe_account_id, payment_intent=payment.payment_intent_id, amount_minor=amount,
            idempotency_key=f"anima-refund-{payment.id}-{seq}", metadata={"payment_id": str(payment.id), "seq": str(seq)},
        )
    row = PaymentRefund(
        id=uuid.uuid4(), payment_id=payment.id, seq=seq, amount_minor=amount, reason=reason.strip(),
        stripe_refund_id=stripe_refund_id, created_by=actor_id,
    )
    session.add(row)
    payment.refunded_minor += amount
    await session.flush()
    return row


async def refunds_of(session: AsyncSession, viewer: Viewer, payment_id: uuid.UUID) -> list[PaymentRefund]:
    """The refunds of a payment, in order."""
    await get(session, viewer, payment_id)
    rows = await session.execute(sa.select(PaymentRefund).where(PaymentRefund.payment_id == payment_id).order_by(PaymentRefund.seq))
    return list(rows.scalars())
