"""The public packages page (``/p/{slug}/packages``, no account): a client buys a package online.

The page lists the organization's packages on sale with their prices. "Buy" takes the client's
name, email, time zone (default the practice's) and consent; an active patient whose email's
blind index matches is the buyer (a blocked one learns only that online buying is unavailable),
else a lead is captured (source ``OTHER``, the page's language, the zone) and converted at once
into a patient, as self-booking does. The online sale (:func:`anima.domains.packages.services.sell`, mode ``online``) creates its payment
request, and the client is sent (303) to its pay link, which opens Stripe Checkout on the
practice's account; the credits arrive when Stripe says it is paid. Without online payments
(no Stripe settings or no enabled account) the list has no buy button and a purchase answers 503
with a sentence saying to contact the practice. Rate-limited per address like self-booking, with
a honeypot; at the plan's patient limit nothing is written.

Checkout returns to ``/p/{slug}/packages/bought/{pay token}`` (:func:`return_urls`; the pay link's
own token, so the page shows nothing the link did not already give): the package bought (ACTIVE)
or being confirmed while Stripe's event is on its way, its sessions left, the last valid day in
the client's zone (the patient's own, else the practice's), named, and a link to book. A
cancelled Checkout returns to the packages page, which says nothing was charged. The receipt is
the payment's own (``PAYMENT_SUCCEEDED`` → :func:`anima.domains.payments.receipts.send_payment_receipt`),
naming the package (the payment's description).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Response, Template

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor, record
from anima.config import Settings
from anima.domains.bookings.pages import PRIVATE, _practice
from anima.domains.bookings.public import patient_zone
from anima.domains.catalog.models import Service
from anima.domains.leads import conversion
from anima.domains.leads import services as leads
from anima.domains.packages import ledger
from anima.domains.packages import services as rules
from anima.domains.packages.models import Package, PackageSale, package_services
from anima.domains.packages.schemas import SaleCreate
from anima.domains.patients.models import Patient
from anima.domains.patients.visibility import Viewer
from anima.domains.payments import connect
from anima.domains.payments.models import PaymentRequest
from anima.http.access import client_address
from anima.identity.profile import iana_zones, zone_groups
from anima.identity.models import Role
from anima.problems import Conflict, InvalidInput, NotFound, Problem
from anima.request_body import RequestBody
from anima.runtime import Runtime
from anima.web import formatting
from anima.web.forms import FormState, parse, read_form
from anima.web.render import render, see_other

#: the honeypot field
HONEYPOT = "website"
#: how the public sells: no user, an owner's reach (any patient)
PUBLIC_VIEWER = Viewer(None, Role.OWNER.value)  # type: ignore[arg-type]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class PublicPurchase(RequestBody):
    """The buy form: which package, in which currency, and who buys."""

    package_id: uuid.UUID
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]
    first_name: Name
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
    consent: bool
    last_name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    time_zone: Annotated[str, msgspec.Meta(max_length=80)] = ""


async def _payments_on(runtime: Runtime, tenant_id: int) -> bool:
    async with runtime.sessionmaker() as platform:
        account = await connect.get_account(platform, tenant_id)
    return connect.payments_status(runtime.settings, account) == "enabled"


async def _list(request: Request[Any, Any, Any], runtime: Runtime, session: Any, slug: str, *, form: FormState | None = None,
                status: int = 200, off: bool | None = None, unavailable: bool = False, practice: Any = None,
                cancelled: bool = False) -> Template:
    practice = practice or await _practice(request, session, slug)
    on = await _payments_on(runtime, practice.tenant.id) if off is None else not off
    packages = [await rules.to_out(session, p) for p in await rules.list_packages(session) if p.active]
    form = form or FormState(values={"time_zone": practice.zone})
    return render("packages/public_packages.html", language=practice.language, status=status, practice=practice,
                  packages=[p for p in packages if p.prices], payments_on=on, form=form, unavailable=unavailable,
                  refused=status == 503, cancelled=cancelled, zones=zone_groups(str(form.value("time_zone") or practice.zone)))


@get("/p/{slug:str}/packages", name="packages:public", include_in_schema=False)
async def public_packages(request: Request[Any, Any, Any], runtime: Runtime, db_session: Any, slug: str,
                          cancelled: Annotated[str | None, Parameter(max_length=8)] = None) -> Template:
    """The packages a client can buy online (``?cancelled=1``: back from a cancelled Checkout)."""
    return await _list(request, runtime, db_session, slug, cancelled=cancelled == "1")


async def return_urls(session: Any, settings: Settings, slug: str, payment: PaymentRequest) -> tuple[str, str] | None:
    """Checkout's ``success_url`` and ``cancel_url`` for the payment of an online package sale:
    ``/p/{slug}/packages/bought/{pay token}`` and ``/p/{slug}/packages?cancelled=1``; None for any
    other payment."""
    sale = await session.scalar(sa.select(PackageSale.id).where(PackageSale.payment_id == payment.id))
    if sale is None or not payment.pay_token:
        return None
    base = f"{settings.public_url.rstrip('/')}/p/{slug}/packages"
    return f"{base}/bought/{payment.pay_token}", f"{base}?cancelled=1"


@get("/p/{slug:str}/packages/bought/{token:str}", name="packages:public-bought", include_in_schema=False)
async def bought_page(request: Request[Any, Any, Any], db_session: Any, slug: str, token: str) -> Template:
    """Checkout's success page of a package bought online: bought, or being confirmed (see the module docstring)."""
    practice = await _practice(request, db_session, slug)
    payment = await db_session.scalar(sa.select(PaymentRequest).where(PaymentRequest.pay_token == token[:64])) if len(token) <= 64 else None
    sale = await db_session.scalar(sa.select(PackageSale).where(PackageSale.payment_id == payment.id)) if payment else None
    if sale is None:
        raise NotFound("this package link is not valid")
    package = await db_session.get(Package, sale.package_id)
    row = (await db_session.execute(sa.select(Patient.time_zone, Patient.profile).where(Patient.id == sale.patient_id))).first()
    zone = patient_zone(row.time_zone, row.profile, practice.zone) if row else practice.zone
    covered = list((await db_session.execute(
        sa.select(Service.id).join(package_services, package_services.c.service_id == Service.id)
        .where(package_services.c.package_id == sale.package_id))).scalars())
    book = f"/p/{practice.tenant.slug}/book" + (f"?service={covered[0]}" if len(covered) == 1 else "")
    active = sale.status == "ACTIVE"
    last_day = formatting.day(sale.expires_at, practice.language, zone) if active else None
    response = render("packages/public_bought.html", language=practice.language, time_zone=zone, practice=practice, sale=sale,
                      package=package, payment=payment, active=active, left=await ledger.balance(db_session, sale.id) if active else sale.sessions,
                      last_day=last_day, zone=zone.replace("_", " "), book=book, paid=payment.status == "SUCCEEDED")
    response.headers.update(PRIVATE)
    return response


async def _buyer(session: Any, cipher: FieldCipher, body: PublicPurchase, *, tenant_id: int, tier: str, actor: Actor,
                 language: str) -> uuid.UUID:
    if body.time_zone and body.time_zone not in iana_zones():
        raise InvalidInput.field("time_zone", "iana", "not an IANA time zone name")
    try:
        index = await cipher.blind_index("email", body.email)
    except ValueError as exc:
        raise InvalidInput.field("email", "email", str(exc)) from None
    matches = list((await session.execute(sa.select(Patient).where(Patient.email_bidx == index, Patient.archived_at.is_(None))
                                          .order_by(Patient.created_at, Patient.id))).scalars())
    if any(p.blocked_at is not None for p in matches):
        raise Conflict("online buying is unavailable", extra={"reason": "online-buying-unavailable"})
    if matches:
        return matches[0].id
    lead = await leads.capture(session, cipher, first_name=body.first_name, last_name=body.last_name, email=body.email, phone=None,
                               language=language, source="OTHER", time_zone=body.time_zone or None, actor=actor)
    lead = await conversion.convert(session, cipher, lead_id=lead.id, tenant_id=tenant_id, tier=tier, actor=actor)
    assert lead.patient_id is not None
    return lead.patient_id


@post("/p/{slug:str}/packages", name="packages:public-buy", include_in_schema=False)
async def public_buy(request: Request[Any, Any, Any], runtime: Runtime, db_session: Any, slug: str) -> Response[Any]:
    """Buy a package online: the sale's payment request, then its pay link (303); 503 when payments are off."""
    practice = await _practice(request, db_session, slug)
    values = await read_form(request)
    if str(values.pop(HONEYPOT, "") or "").strip():
        return await _list(request, runtime, db_session, slug, practice=practice)
    if not await _payments_on(runtime, practice.tenant.id):
        return await _list(request, runtime, db_session, slug, status=503, off=True, practice=practice)
    package, _, currency = str(values.pop("choice", "") or "").partition("|")
    body, form = parse(PublicPurchase, {**values, "package_id": package, "currency": currency}, booleans=("consent",),
                       language=practice.language)
    form.values = {**values, "choice": f"{package}|{currency}" if package else ""}
    if body is not None and not body.consent:
        body, form = None, form.show(InvalidInput.field("consent", "required", "consent is needed to buy"), practice.language)
    if body is None:
        return await _list(request, runtime, db_session, slug, form=form, status=422, off=False, practice=practice)
    address = client_address(request)
    actor = Actor(None, "public", None, address)
    try:
        await runtime.rate_limiter.hit("book", "address", address)
        cipher = FieldCipher(runtime.keyring, db_session, practice.tenant.id)
        patient_id = await _buyer(db_session, cipher, body, tenant_id=practice.tenant.id, tier=practice.tenant.tier, actor=actor,
                                  language=practice.language)
        sale = await rules.sell(db_session, PUBLIC_VIEWER, body.package_id,
                                SaleCreate(patient_id=patient_id, currency=body.currency, mode="online"))
        payment = await db_session.get(PaymentRequest, sale.payment_id)
        await record(db_session, actor, "package.bought_online", patient_id=patient_id, sale_id=str(sale.id), consent=True)
        token = payment.pay_token
    except Problem as problem:
        await db_session.rollback()
        if problem.extra.get("reason") == "online-buying-unavailable" or problem.kind == "plan-limit-reached":
            return await _list(request, runtime, db_session, slug, status=problem.status, off=False, unavailable=True)
        return await _list(request, runtime, db_session, slug, form=form.show(problem, practice.language), status=problem.status, off=False)
    await db_session.commit()
    return see_other(request, f"/api/v1/pay/{practice.tenant.slug}/{token}")


PAGE_HANDLERS: list[Any] = [public_packages, public_buy, bought_page]
