"""Paying for a booking online: the amount, the held booking's payment, Checkout, the outcome.

**What is paid.** A service's ``pay_online`` (NONE, FULL, DEPOSIT) says what a client pays when
self-booking while the practice takes card payments (:func:`due_online`; a share deposit is
``price × bp / 10000`` rounded half up, at least 1 minor unit). With payments off, the same
service books as pay-later (the page says so).

**The flow.** The wizard holds the slot for :data:`HOLD_MINUTES` (30: Stripe's shortest Checkout
life) instead of confirming it, asks for the payment tied to the booking (:func:`start`) and sends
the client through the pay link to Checkout. Checkout opens with ``expires_at`` no earlier than
Stripe's 30-minute minimum and, when the client ticked the box, ``setup_future_usage=off_session``
(:func:`checkout_extra`). The success webhook confirms the booking through
:func:`anima.domains.bookings.payment_holds.confirm_paid` (:func:`after_outcome`); a success for
a hold that lapsed (expired or cancelled; the slot may be taken or not) is refunded at once, in
full, and audited (``booking.payment_refunded_late``). The tenant tick expires the Checkout of a
lapsed hold on Stripe (no charge can follow) and marks its request FAILED
(:func:`expire_lapsed_checkouts`). Rescheduling moves the same booking row, so it never asks
for a payment again.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import sqlalchemy as sa
import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.stripe_client import PaymentProviderError
from anima.config import Settings
from anima.domains.audit.services import Actor, record
from anima.domains.bookings import links, payment_holds
from anima.domains.bookings.models import Booking
from anima.domains.catalog.models import Service
from anima.domains.payments import connect
from anima.domains.payments.models import PaymentRequest, SavedCard
from anima.domains.payments.services import StripeOutcome, _payload, refund_payment, request_payment
from anima.domains.payments.stripe_connect import ConnectGateway
from anima.events.due_work import WorkKind, note_due
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.logs import get_logger
from anima.problems import Conflict
from anima.tenancy import registry

log = get_logger(__name__)

#: minutes a self-booking that needs an online payment is held before it expires by itself
HOLD_MINUTES = 30
#: Stripe refuses a Checkout ``expires_at`` sooner than 30 minutes after creation; one more for the clock
CHECKOUT_MIN_LIFE = datetime.timedelta(minutes=31)
#: the version of the saved-card wording the client agreed to (the page's text; bump it with the text)
CONSENT_VERSION = "fees-v1"
#: who acts in the audit trail when Stripe's events change a booking
STRIPE_ACTOR = Actor(None, "stripe", None, None)
ALL_BP = 10_000


def due_online(price_minor: int, pay_online: str, deposit_minor: int | None, deposit_share_bp: int | None) -> int:
    """Minor units a client pays online when booking: 0 (NONE, or a free service), the price
    (FULL), the fixed deposit, or ``price × share / 10000`` rounded half up (at least 1, at most
    the price)."""
    if pay_online == "NONE" or price_minor <= 0:
        return 0
    if pay_online == "FULL":
        return price_minor
    if deposit_minor is not None:
        return min(deposit_minor, price_minor)
    share = deposit_share_bp or 0
    return min(price_minor, max(1, (price_minor * share * 2 + ALL_BP) // (2 * ALL_BP)))


def due_for(service: Service) -> int:
    """:func:`due_online` of a service."""
    return due_online(service.price_minor, service.pay_online, service.deposit_minor, service.deposit_share_bp)


async def payments_on(session: AsyncSession, settings: Settings, slug: str) -> bool:
    """Whether the organization ``slug`` takes card payments (Stripe settings and an enabled
    account). Platform reads: call it before the session enters the tenant."""
    if not settings.payments_configured:
        return False
    tenant_id = await registry.id_of(session, slug[:64])
    if tenant_id is None:
        return False
    account = await connect.get_account(session, tenant_id)
    return account is not None and account.state == "enabled"


async def start(session: AsyncSession, booking: Booking, service: Service, *, save_card: bool,
                now: datetime.datetime | None = None) -> PaymentRequest:
    """The payment request of a booking just HELD for payment: the amount due online in the
    service's currency, tied both ways (the request's ``booking_id``, the booking's
    ``payment_id``); with ``save_card``, the client's consent is recorded (when, the wording's
    version, the booking). Raises InvalidInput (nothing due), Conflict (the booking is not HELD)."""
    now = now or datetime.datetime.now(datetime.UTC)
    amount = due_for(service)
    kind = "Deposit" if service.pay_online == "DEPOSIT" else "Payment"
    payment = await request_payment(session, patient_id=booking.patient_id, amount_minor=amount, currency=service.currency,
                                    description=f"{kind}: {service.name}", booking_id=booking.id)
    await payment_holds.attach_payment(session, booking.id, payment.id)
    await note_due(session, WorkKind.TICK, booking.expires_at)  # the tick expires the Checkout if the hold lapses
    if save_card:
        session.add(SavedCard(id=uuid.uuid4(), patient_id=booking.patient_id, booking_id=booking.id, payment_id=payment.id,
                              consented_at=now, consent_version=CONSENT_VERSION))
        await session.flush()
    return payment


async def return_urls(session: AsyncSession, settings: Settings, slug: str, tenant_id: int,
                      payment: PaymentRequest) -> tuple[str, str] | None:
    """Checkout's ``success_url`` and ``cancel_url`` for the payment that holds a booking: the
    public pages ``/p/{slug}/b/{manage token}/paid`` and ``…/unpaid``; None for any other payment
    (a fee's pay link returns to the pay link itself)."""
    booking = await session.get(Booking, payment.booking_id) if payment.booking_id else None
    if booking is None or booking.payment_id != payment.id:
        return None
    base = settings.public_url.rstrip("/") + links.manage_path(settings.secret_key, slug, tenant_id, booking.id)
    return base + "/paid", base + "/unpaid"


async def checkout_extra(session: AsyncSession, payment: PaymentRequest, *, now: datetime.datetime | None = None) -> dict[str, Any]:
    """Extra Checkout parameters of a payment tied to a booking (see the module docstring).

    For the payment that holds a booking: ``expires_at`` (the hold's end, no sooner than Stripe
    allows) and, with the client's consent, ``setup_future_usage=off_session`` and a customer.
    Raises Conflict (``hold-lapsed``) when that booking no longer waits for it."""
    now = now or datetime.datetime.now(datetime.UTC)
    booking = await session.get(Booking, payment.booking_id) if payment.booking_id else None
    if booking is None or booking.payment_id != payment.id:
        return {}
    if booking.status != "HELD" or booking.expires_at is None or booking.expires_at <= now:
        raise Conflict("the time held for this booking has passed; book again", extra={"reason": "hold-lapsed"})
    expires = max(booking.expires_at, now + CHECKOUT_MIN_LIFE)
    extra: dict[str, Any] = {"expires_at": int(expires.timestamp())}
    consent = await session.scalar(sa.select(SavedCard.id).where(SavedCard.payment_id == payment.id))
    if consent is not None:
        extra["customer_creation"] = "always"
        extra["payment_intent_data"] = {"setup_future_usage": "off_session"}
    return extra


def _text(value: Any) -> str | None:
    return value[:255] if isinstance(value, str) and value.strip() else None


async def record_card(session: AsyncSession, payment_id: uuid.UUID, obj: dict[str, Any], account_id: str | None) -> bool:
    """Keep the Stripe customer and payment method an event's object reports for a payment whose
    client consented (a Checkout Session carries ``customer``; a PaymentIntent ``customer`` and
    ``payment_method``); values only fill in, never erase. Returns whether anything changed."""
    card = (await session.execute(sa.select(SavedCard).where(SavedCard.payment_id == payment_id).with_for_update())).scalar_one_or_none()
    if card is None:
        return False
    changed = False
    for attr, key in (("customer_id", "customer"), ("payment_method_id", "payment_method")):
        value = _text(obj.get(key))
        if value and getattr(card, attr) != value:
            setattr(card, attr, value)
            changed = True
    if changed and account_id:
        card.stripe_account_id = account_id
    await session.flush()
    return changed


async def after_outcome(session: AsyncSession, gateway: ConnectGateway | None, outcome: StripeOutcome, obj: dict[str, Any], *,
                        now: datetime.datetime | None = None) -> str | None:
    """What a verified payment event means for a booking, after
    :func:`~anima.domains.payments.services.apply_stripe_outcome`: the card details of a consent,
    then for a success of a booking's payment the booking confirmed, or — its hold lapsed — the
    payment refunded in full and audited. Returns ``confirmed``, ``already``, ``refunded`` or None.
    Idempotent: duplicated and reordered events end in the same state."""
    if outcome.payment_id is None:
        if not outcome.payment_intent:
            return None
        found = await session.scalar(sa.select(PaymentRequest.id).where(PaymentRequest.payment_intent_id == outcome.payment_intent))
        if found is None:
            return None
        outcome = StripeOutcome(found, outcome.kind, outcome.account_id, outcome.payment_intent)
    assert outcome.payment_id is not None
    if outcome.kind == "succeeded":
        await record_card(session, outcome.payment_id, obj, outcome.account_id)
    payment = await session.get(PaymentRequest, outcome.payment_id)
    if payment is None or payment.booking_id is None or payment.status != "SUCCEEDED" or outcome.kind != "succeeded":
        return None
    if await payment_holds.charge_paid(session, payment.id):
        return "collected"
    result = await payment_holds.confirm_paid(session, payment.booking_id, payment.id, now=now)
    if result == "not-held":
        return None
    if result != "lapsed":
        return result
    if payment.refunded_minor >= payment.amount_minor or not payment.payment_intent_id:
        return "already" if payment.refunded_minor >= payment.amount_minor else None
    refund = await refund_payment(session, gateway, payment.id, amount_minor=None, reason="paid after the booking's hold had lapsed")
    await record(session, STRIPE_ACTOR, "booking.payment_refunded_late", patient_id=payment.patient_id,
                 booking_id=str(payment.booking_id), payment_id=str(payment.id), amount_minor=refund.amount_minor,
                 currency=payment.currency)
    log.info("late booking payment refunded", payment_id=str(payment.id), booking_id=str(payment.booking_id))
    return "refunded"


async def expire_checkout(gateway: ConnectGateway, *, account_id: str, session_id: str) -> bool:
    """Expire an open Checkout Session on ``account_id`` (``POST /v1/checkout/sessions/{id}/expire``)
    so it can no longer be paid. Returns False when Stripe says it is no longer open (completed or
    already expired). Raises PaymentProviderError (other refusals)."""
    try:
        await gateway.client.v1.checkout.sessions.expire_async(session_id, options={"stripe_account": account_id})
    except stripe.InvalidRequestError:
        return False
    except stripe.StripeError as exc:
        raise PaymentProviderError(f"Stripe refused to expire the checkout: {exc.user_message or type(exc).__name__}") from None
    return True


async def expire_lapsed_checkouts(session: AsyncSession, gateway: ConnectGateway | None, *,
                                  now: datetime.datetime | None = None) -> int:
    """For each PENDING payment of a booking whose hold lapsed: expire its Checkout on Stripe and
    mark it FAILED (``the booking's hold expired``). Run by the tenant tick. Returns how many."""
    now = now or datetime.datetime.now(datetime.UTC)
    pending = list((await session.execute(
        sa.select(PaymentRequest).where(PaymentRequest.status == "PENDING", PaymentRequest.booking_id.is_not(None))
        .with_for_update(skip_locked=True))).scalars())
    gone = await payment_holds.lapsed(session, [p.booking_id for p in pending if p.booking_id], now=now)
    done = 0
    for payment in pending:
        if payment.id not in gone:
            continue
        if payment.checkout_session_id and payment.stripe_account_id:
            if gateway is None:
                continue  # Stripe unreachable from here: the next tick tries again
            try:
                await expire_checkout(gateway, account_id=payment.stripe_account_id, session_id=payment.checkout_session_id)
            except PaymentProviderError:
                log.warning("checkout not expired; the next tick tries again", payment_id=str(payment.id))
                continue
        payment.status, payment.failure_reason, payment.settled_at = "FAILED", "the booking's hold expired", now
        payment.checkout_url = None
        await session.flush()
        await emit(session, EventType.PAYMENT_FAILED, _payload(payment))
        done += 1
    return done
