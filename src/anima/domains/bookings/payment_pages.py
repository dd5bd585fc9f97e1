"""Public pages of paying for a booking: what the details step says, and Checkout's way back.

The details step of the wizard (:func:`pay_terms`) says what is paid now for a service paid online
(the full price or the deposit) and offers the saved-card box — unticked — with the cancellation
policy's fees it would pay; with the practice's card payments off it says the session is paid
later, at the practice. Checkout returns to ``/p/<slug>/b/<manage token>/paid`` (payment received:
confirmed, or being confirmed while Stripe's event is on its way; or refunded when the hold had
lapsed) or ``…/unpaid`` (not paid: try again while the hold lives, through the same pay link).
Times are shown in the client's zone, named. Token pages answer ``Cache-Control: no-store``.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from litestar import Request, get
from litestar.params import Parameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.bookings import links, policies, public
from anima.domains.bookings.models import Booking
from anima.domains.catalog.models import Service
from anima.domains.payments.booking_checkout import CONSENT_VERSION, due_for
from anima.domains.payments.models import PaymentRequest
from anima.problems import NotFound
from anima.runtime import Runtime
from anima.web import formatting
from anima.web.render import render

_ZONE = Annotated[str | None, Parameter(max_length=80)]


async def pay_terms(session: AsyncSession, service: Service, pay_on: bool) -> dict[str, Any] | None:
    """What the details step says of paying: None (nothing paid online), ``mode`` ``later``
    (payments off), or ``now`` with the amount, whether it is a deposit, and the policy's fees
    the saved card would pay (``policy``: window hours, late and no-show cost texts)."""
    due = due_for(service)
    if due <= 0:
        return None
    if not pay_on:
        return {"mode": "later"}
    policy = await policies.policy_for(session, service.id)
    fees = None
    if policy is not None and (policy.late_cancel_kind in ("FIXED", "SHARE") or policy.no_show_kind in ("FIXED", "SHARE")):
        fees = {"window_hours": policy.window_hours, "late": _cost(policy.late_cancel_kind, policy.late_cancel_value, service),
                "no_show": _cost(policy.no_show_kind, policy.no_show_value, service)}
    return {"mode": "now", "amount": due, "currency": service.currency, "deposit": service.pay_online == "DEPOSIT",
            "fees": fees, "consent_version": CONSENT_VERSION}


def _cost(kind: str, value: int, service: Service) -> int | None:
    """A policy cost in minor units of the service's currency (None: not a money cost)."""
    if kind == "FIXED":
        return value
    if kind == "SHARE":
        return service.price_minor * value // policies.ALL_BP
    return None


async def _page(request: Request[Any, Any, Any], runtime: Runtime, session: AsyncSession, slug: str, token: str, template: str,
                zone: str | None) -> Template:
    from anima.domains.bookings.pages import PRIVATE, _practice

    practice = await _practice(request, session, slug)
    booking_id = links.booking_of(runtime.settings.secret_key, practice.tenant.id, token)
    booking = await session.get(Booking, booking_id) if booking_id else None
    if booking is None or booking.occurrence_id is not None:
        raise NotFound("this booking link is not valid")
    payment = await session.get(PaymentRequest, booking.payment_id) if booking.payment_id else None
    service = await session.get(Service, booking.service_id)
    client_zone = await public.client_zone(session, booking, practice.zone)
    shown_zone = zone if zone and zone in public.iana_zones() else client_zone
    when = formatting.instant(booking.starts_at, practice.language, shown_zone, style="full") + f" ({shown_zone.replace('_', ' ')})"
    now = datetime.datetime.now(datetime.UTC)
    live = booking.status == "HELD" and booking.expires_at is not None and booking.expires_at > now
    refunded = payment is not None and payment.refunded_minor > 0
    response = render(
        template, language=practice.language, time_zone=shown_zone, practice=practice, booking=booking, service=service,
        payment=payment, when=when, live=live, refunded=refunded, manage=f"/p/{practice.tenant.slug}/b/{token}",
        pay_path=f"/api/v1/pay/{practice.tenant.slug}/{payment.pay_token}" if payment is not None and payment.pay_token else None,
        hold_until=formatting.instant(booking.expires_at, practice.language, shown_zone) if live and booking.expires_at else None,
    )
    response.headers.update(PRIVATE)
    return response


@get("/p/{slug:str}/b/{token:str}/paid", name="bookings:paid", include_in_schema=False)
async def paid_page(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, slug: str, token: str,
                    zone: _ZONE = None) -> Template:
    """Checkout's success page: payment received, the booking confirmed or being confirmed."""
    return await _page(request, runtime, db_session, slug, token, "bookings/paid.html", zone)


@get("/p/{slug:str}/b/{token:str}/unpaid", name="bookings:unpaid", include_in_schema=False)
async def unpaid_page(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, slug: str, token: str,
                      zone: _ZONE = None) -> Template:
    """Checkout's cancel page: not paid; pay again while the time is still held."""
    return await _page(request, runtime, db_session, slug, token, "bookings/unpaid.html", zone)


PAGE_HANDLERS: list[Any] = [paid_page, unpaid_page]
