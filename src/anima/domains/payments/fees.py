"""Late-cancellation and no-show fees collected once, by a job.

A fee is a ``booking_charges`` row the booking engine recorded (TO_COLLECT, in money: FIXED or
SHARE). :func:`collect_fees` (the tenant tick) takes each one not yet given to a payment, under a
row lock (``SKIP LOCKED``: two runs never take the same fee), and:

* with a card the client agreed to keep (:class:`~anima.domains.payments.models.SavedCard` with
  Stripe's customer and payment method) charges it off-session on the practice's account: a
  PaymentIntent with ``confirm=true, off_session=true`` and the idempotency key
  ``anima-fee-{booking_id}-{charge_kind}`` (``LATE_CANCEL`` or ``NO_SHOW``). Its parameters are
  derived from the charge only, so a run that dies after Stripe charged and before our commit
  is retried with the same key and Stripe answers with the first PaymentIntent: one charge. The
  charge is recorded as a SUCCEEDED payment request (method ``stripe``) and the fee COLLECTED;
* without such a card, or when Stripe declines it or asks the client to authenticate
  (``requires_action``), asks for a payment (a PENDING request with a pay link) and emails the
  link (:func:`anima.domains.automations.outbound.queue_email`, key ``fee-link:{charge_id}``);
  the fee becomes COLLECTED when that payment succeeds.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.stripe_client import PaymentProviderError
from anima.crypto.cipher import FieldCipher
from anima.domains.automations import outbound
from anima.domains.bookings import payment_holds
from anima.domains.bookings.models import BookingCharge
from anima.domains.patients.models import Patient
from anima.domains.payments.models import PaymentRequest, SavedCard
from anima.domains.payments.services import _payload, request_payment
from anima.domains.payments.stripe_connect import ConnectGateway
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.logs import get_logger
from anima.mail import compose
from anima.web import formatting, i18n

log = get_logger(__name__)

_REASONS = {"LATE_CANCEL": "Late cancellation fee", "NO_SHOW": "No-show fee"}


@dataclass(frozen=True)
class OffSession:
    """What Stripe answered to an off-session charge: ``status`` (``succeeded``,
    ``requires_action``, ``declined``…) and the PaymentIntent's id when one exists."""

    status: str
    intent_id: str | None


def fee_key(booking_id: uuid.UUID, charge_kind: str) -> str:
    """The idempotency key of a fee's off-session charge."""
    return f"anima-fee-{booking_id}-{charge_kind}"


async def charge_off_session(gateway: ConnectGateway, *, account_id: str, customer: str, payment_method: str, amount_minor: int,
                             currency: str, key: str, metadata: dict[str, str]) -> OffSession:
    """A PaymentIntent confirmed off-session on ``account_id`` with the saved card. A card error
    (declined, authentication required) is an answer, not an error. Raises PaymentProviderError
    for other refusals (nothing known to be charged)."""
    params: dict[str, Any] = {"amount": amount_minor, "currency": currency.lower(), "customer": customer,
                              "payment_method": payment_method, "confirm": True, "off_session": True, "metadata": metadata}
    try:
        intent = await gateway.client.v1.payment_intents.create_async(
            params, {"stripe_account": account_id, "idempotency_key": key})  # type: ignore[arg-type]
    except stripe.CardError as exc:
        error = getattr(exc, "error", None)
        pi = getattr(error, "payment_intent", None) if error is not None else None
        code = getattr(exc, "code", None) or "declined"
        return OffSession("requires_action" if code == "authentication_required" else "declined",
                          getattr(pi, "id", None) if pi is not None else None)
    except stripe.StripeError as exc:
        raise PaymentProviderError(f"Stripe refused the charge: {exc.user_message or type(exc).__name__}") from None
    return OffSession(str(intent.status), intent.id)


async def _card(session: AsyncSession, charge: BookingCharge) -> SavedCard | None:
    """The card to charge: the booking's own consent, else the patient's latest, with Stripe's ids."""
    rows = await session.execute(
        sa.select(SavedCard).where(SavedCard.patient_id == charge.patient_id, SavedCard.customer_id.is_not(None),
                                   SavedCard.payment_method_id.is_not(None), SavedCard.stripe_account_id.is_not(None))
        .order_by((SavedCard.booking_id == charge.booking_id).desc(), SavedCard.created_at.desc()).limit(1))
    return rows.scalar_one_or_none()


async def collect_fees(
    session: AsyncSession, gateway: ConnectGateway | None, cipher: FieldCipher, *, tenant_id: int, slug: str, org_name: str,
    public_url: str, language: str, after_charge: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, int]:
    """Collect every fee due (see the module docstring) in the caller's transaction; returns
    ``{"charged": n, "links": n}``. ``after_charge`` runs after Stripe charged and before
    anything is written (tests make it fail, as a crash would)."""
    counts = {"charged": 0, "links": 0}
    for charge in await payment_holds.charges_to_collect(session):
        assert charge.currency is not None
        card = await _card(session, charge) if gateway is not None else None
        description = _REASONS.get(charge.reason, "Fee")
        if card is not None and gateway is not None:
            assert card.stripe_account_id and card.customer_id and card.payment_method_id
            try:
                answer = await charge_off_session(
                    gateway, account_id=card.stripe_account_id, customer=card.customer_id, payment_method=card.payment_method_id,
                    amount_minor=charge.amount_minor, currency=charge.currency, key=fee_key(charge.booking_id, charge.reason),
                    metadata={"tenant_id": str(tenant_id), "booking_id": str(charge.booking_id), "charge_id": str(charge.id)})
            except PaymentProviderError:  # Stripe unreachable or refusing: the next tick retries with the same key
                log.warning("fee not charged yet; the next tick tries again", booking_id=str(charge.booking_id))
                continue
            if answer.status == "succeeded":
                if after_charge is not None:
                    await after_charge()
                payment = await request_payment(session, patient_id=charge.patient_id, amount_minor=charge.amount_minor,
                                                currency=charge.currency, description=description, booking_id=charge.booking_id)
                payment.status, payment.method, payment.settled_at = "SUCCEEDED", "stripe", datetime.datetime.now(datetime.UTC)
                payment.payment_intent_id, payment.stripe_account_id, payment.pay_token = answer.intent_id, card.stripe_account_id, None
                await session.flush()
                await emit(session, EventType.PAYMENT_SUCCEEDED, _payload(payment))
                await payment_holds.charge_given_to(session, charge.id, payment.id, collected=True)
                counts["charged"] += 1
                log.info("fee charged off-session", booking_id=str(charge.booking_id), reason=charge.reason)
                continue
            log.info("fee card not charged; a pay link instead", booking_id=str(charge.booking_id), status=answer.status)
        payment = await request_payment(session, patient_id=charge.patient_id, amount_minor=charge.amount_minor,
                                        currency=charge.currency, description=description, booking_id=charge.booking_id)
        await payment_holds.charge_given_to(session, charge.id, payment.id, collected=False)
        await _email_link(session, cipher, charge, payment, slug=slug, org_name=org_name, public_url=public_url, language=language)
        counts["links"] += 1
    return counts


async def _email_link(session: AsyncSession, cipher: FieldCipher, charge: BookingCharge, payment: PaymentRequest, *, slug: str,
                      org_name: str, public_url: str, language: str) -> bool:
    patient = await session.get(Patient, charge.patient_id)
    if patient is None or patient.email_enc is None:
        return False
    address = await cipher.decrypt_text("patients", "email_enc", patient.id, patient.email_enc)
    lang = i18n.pick_language(patient.language, language)
    composed = compose.render(
        "fee_payment", lang, org_name=org_name, first_name=patient.first_name, no_show=charge.reason == "NO_SHOW",
        amount=formatting.money(payment.amount_minor, payment.currency, lang),
        pay_link=f"{public_url.rstrip('/')}/api/v1/pay/{slug}/{payment.pay_token}")
    return await outbound.queue_email(session, cipher, key=f"fee-link:{charge.id}", address=address, composed=composed,
                                      template="fee_payment", category="transactional", patient_id=patient.id)


async def payments_tick(tj: Any, settings: Any, *, after_charge: Callable[[], Awaitable[None]] | None = None) -> dict[str, int]:
    """The tenant tick's payments work in the job's tenant transaction ``tj``
    (:class:`anima.jobs.runner.TenantTransaction`): expire the Checkout of lapsed booking holds
    (:func:`anima.domains.payments.booking_checkout.expire_lapsed_checkouts`), then collect the
    fees due. Without the Stripe settings no fee is touched (staff collect them by hand)."""
    from anima.domains.payments.booking_checkout import expire_lapsed_checkouts
    from anima.domains.payments.stripe_connect import connect_gateway_for
    from anima.domains.settings.services import get_settings

    gateway = connect_gateway_for(settings) if settings.payments_configured else None
    expired = await expire_lapsed_checkouts(tj.session, gateway)
    if gateway is None:
        return {"checkouts_expired": expired, "charged": 0, "links": 0}
    practice = await get_settings(tj.session)
    counts = await collect_fees(tj.session, gateway, tj.cipher, tenant_id=tj.tenant.id, slug=tj.tenant.slug, org_name=tj.tenant.name,
                                public_url=tj.public_url, language=practice.locale or "en", after_charge=after_charge)
    return {"checkouts_expired": expired, **counts}
