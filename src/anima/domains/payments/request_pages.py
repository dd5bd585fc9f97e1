"""The workspace's payments pages (owners and assistants): payment requests and what was paid.

* ``/o/{slug}/payments``: the requests, newest first, by status, 25 a page (amount in the page's
  locale, the person, the booking if any, created and settled instants in the viewer's zone with
  the zone named); one form that either records money received in cash or by bank transfer, or
  asks the person for a payment (its pay link is then shown to copy, or why online payments are off).
* ``/o/{slug}/payments/{id}``: one payment with its refunds and its receipt (HTML and PDF); owners
  refund all or part of what is left, after a confirmation step that shows the cancellation
  policy of the booking's service (else the organization's).

Every action calls the service the JSON API calls (:mod:`anima.domains.payments.services`,
:mod:`~anima.domains.payments.receipts`, :func:`~anima.domains.payments.transfers.after_refund`),
with the API's roles: owners and assistants create, record and read receipts; owners alone
refund. Recording cash numbers the receipt at once (the ``PAYMENT_SUCCEEDED`` job then finds it
and never sends twice), so the front desk can hand it over.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from babel.numbers import list_currencies
from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Response, Template

from anima.crypto.cipher import FieldCipher
from anima.domains.bookings import policies
from anima.domains.bookings.models import Booking
from anima.domains.catalog.models import Service
from anima.domains.catalog.pages import price_to_minor
from anima.domains.invoices.services import paid_by_payment
from anima.domains.patients.models import Patient
from anima.domains.patients.visibility import Viewer, visible
from anima.domains.payments import connect, receipts
from anima.domains.payments import services as rules
from anima.domains.payments.models import PaymentRequest
from anima.domains.payments.schemas import PaymentCreate, RefundCreate
from anima.domains.payments.stripe_connect import connect_gateway_for
from anima.domains.payments.transfers import after_refund
from anima.domains.settings.services import get_settings
from anima.http.access import FRONT_DESK, OWNERS, TenantContext
from anima.http.pagination import Page
from anima.problems import NotFound, Problem
from anima.runtime import Runtime
from anima.tenancy.scope import enter_tenant
from anima.web import i18n
from anima.web.forms import FormState, parse, read_form
from anima.web.render import render, see_other
from anima.web.workspace import Workspace

#: payment requests per page
PAGE_SIZE = 25
STATUSES = ("PENDING", "SUCCEEDED", "FAILED")
#: the currencies the forms offer first (any ISO 4217 code is accepted)
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CAD", "MXN")
#: how many people the forms offer (by name)
PATIENTS_OFFERED = 500
_ISO_4217 = frozenset(list_currencies())


def _url(ws: Workspace, status: str | None, page: int) -> str:
    query = [f"status={status}"] if status else []
    if page > 1:
        query.append(f"offset={(page - 1) * PAGE_SIZE}")
    return f"{ws.base}/payments" + ("?" + "&".join(query) if query else "")


async def _fresh(tenant: TenantContext, code: int) -> None:
    """After a refused write, a clean transaction for the page's reads."""
    if code >= 400:
        await tenant.session.rollback()
        await enter_tenant(tenant.session, tenant.tenant.id)


async def _online(runtime: Runtime, tenant: TenantContext) -> str:
    """Whether card payments work: ``enabled``, else why not (see :func:`connect.payments_status`)."""
    async with runtime.sessionmaker() as platform:
        account = await connect.get_account(platform, tenant.tenant.id)
    return connect.payments_status(runtime.settings, account)


async def _names(session: Any, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(sa.select(Patient.id, Patient.first_name, Patient.last_name).where(Patient.id.in_(ids)))
    return {r.id: f"{r.first_name} {r.last_name}".strip() for r in rows.all()}


async def _list_page(runtime: Runtime, tenant: TenantContext, ws: Workspace, viewer: Viewer, *, status: str | None = None,
                     page: int = 1, form: FormState | None = None, code: int = 200, done: str | None = None) -> Template:
    await _fresh(tenant, code)
    session = tenant.session
    rows, total = await rules.list_payments(session, viewer, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, status=status)
    patients = list((await session.execute(
        sa.select(Patient.id, Patient.first_name, Patient.last_name).where(Patient.archived_at.is_(None), *visible(viewer))
        .order_by(Patient.first_name, Patient.last_name, Patient.id).limit(PATIENTS_OFFERED))).all())
    ws.active = "payments"
    return render(
        "payments/payments.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=code, payments=rows, total=total,
        names=await _names(session, {p.patient_id for p in rows}), filter_status=status, page=page,
        pages=max(1, -(-total // PAGE_SIZE)), statuses=STATUSES, url=lambda s, p: _url(ws, s, p), done=done,
        online=await _online(runtime, tenant),
        person_options=[(str(r.id), f"{r.first_name} {r.last_name}".strip()) for r in patients],
        currencies=[(c, c) for c in CURRENCIES],
        form=form or FormState(values={"currency": "EUR", "kind": "record"}),
    )


@get("/o/{org_slug:str}/payments", opt=FRONT_DESK, name="payments:list")
async def payments_page(
    runtime: Runtime, tenant: TenantContext, ws: Workspace, viewer: Viewer, page: Page,
    status: Annotated[str | None, Parameter(query="status", max_length=10)] = None,
    done: Annotated[str | None, Parameter(max_length=20)] = None,
) -> Template:
    """Payment requests, newest first, by status, 25 a page; the form to record or ask for a payment."""
    return await _list_page(runtime, tenant, ws, viewer, status=status if status in STATUSES else None,
                            page=page.offset // PAGE_SIZE + 1, done=done if done in ("recorded",) else None)


def _amount_form(values: dict[str, Any], language: str) -> tuple[PaymentCreate | None, FormState]:
    """The payment form as the API's :class:`PaymentCreate`, errors beside ``amount`` and ``currency``."""
    currency = str(values.get("currency", "")).strip().upper()
    errors: dict[str, str] = {}
    if currency not in _ISO_4217:
        errors["currency"] = i18n.gettext(language, "Choose a currency by its ISO 4217 code, such as EUR.")
        minor = None
    else:
        minor, amount_error = price_to_minor(str(values.get("amount", "")), currency, language)
        if amount_error:
            errors["amount"] = amount_error
        elif minor is not None and minor < 1:
            errors["amount"] = i18n.gettext(language, "Enter an amount greater than zero.")
    body, form = parse(PaymentCreate, {"patient_id": values.get("patient_id", ""), "currency": currency if currency in _ISO_4217 else "XXX",
                                       "amount_minor": minor or 1, "description": values.get("description", "")}, language=language)
    form.values = dict(values)
    form.errors.pop("amount_minor", None)
    form.errors.update(errors)
    if errors:
        form.message = form.message or next(iter(errors.values()))
        body = None
    return body, form


@post("/o/{org_slug:str}/payments", opt=FRONT_DESK, name="payments:create")
async def create_submit(request: Request[Any, Any, Any], runtime: Runtime, tenant: TenantContext, ws: Workspace,
                        viewer: Viewer, cipher: FieldCipher) -> Response[Any]:
    """``kind=record``: money received in cash or by bank transfer (a request settled at once, its
    receipt numbered); otherwise ask the person for a payment (PENDING) and show its pay link."""
    values = await read_form(request)
    record = values.get("kind") == "record"
    body, form = _amount_form(values, ws.language)
    if body is None:
        return await _list_page(runtime, tenant, ws, viewer, form=form, code=422)
    try:
        payment = await rules.create(tenant.session, viewer, body)
        if record:
            payment = await rules.settle(tenant.session, viewer, payment.id, succeeded=True)
            await paid_by_payment(tenant.session, payment.id)
            await receipts.queue_receipt(tenant.session, cipher, payment.id, org_name=tenant.tenant.name)
    except Problem as problem:
        return await _list_page(runtime, tenant, ws, viewer, form=form.show(problem, ws.language), code=problem.status)
    return see_other(request, f"{ws.base}/payments/{payment.id}?done={'recorded' if record else 'asked'}")


@dataclass(frozen=True)
class PolicyShown:
    """The cancellation policy a refund is weighed against: whose it is, and its terms."""

    service_name: str | None
    policy: Any


async def _policy(session: Any, payment: PaymentRequest) -> PolicyShown:
    """The policy of the booking's service (its own, else the organization's), or the organization's."""
    service_id, name = None, None
    if payment.booking_id is not None:
        found = (await session.execute(sa.select(Booking.service_id, Service.name).join(Service, Service.id == Booking.service_id)
                                       .where(Booking.id == payment.booking_id))).first()
        if found is not None:
            service_id, name = found
    row = await policies.policy_for(session, service_id) if service_id is not None else None
    if row is not None and row.service_id == service_id:
        return PolicyShown(name, await policies.get_policy(session, service_id))
    return PolicyShown(None, await policies.get_policy(session, None))


async def _detail(runtime: Runtime, tenant: TenantContext, ws: Workspace, viewer: Viewer, payment_id: uuid.UUID, *,
                  refund: FormState | None = None, confirm: dict[str, Any] | None = None, code: int = 200,
                  done: str | None = None) -> Template:
    await _fresh(tenant, code)
    session = tenant.session
    payment = await rules.get(session, viewer, payment_id)
    refunds = await rules.refunds_of(session, viewer, payment_id)
    numbered = await receipts.receipts_of(session, payment_id)
    booking = await session.get(Booking, payment.booking_id) if payment.booking_id else None
    out = rules.to_out(payment, tenant.tenant.slug)
    ws.active = "payments"
    return render(
        "payments/payment.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=code, payment=payment,
        name=(await _names(session, {payment.patient_id})).get(payment.patient_id, "—"), refunds=refunds,
        receipts={r.seq: receipts.receipt_number(r.number) for r in numbered}, booking=booking,
        pay_link=f"{runtime.settings.public_url.rstrip('/')}{out.pay_path}" if out.pay_path else None,
        online=await _online(runtime, tenant), left=payment.amount_minor - payment.refunded_minor,
        policy=await _policy(session, payment) if ws.is_owner and payment.status == "SUCCEEDED" else None,
        refund=refund or FormState(), confirm=confirm, done=done,
    )


@get("/o/{org_slug:str}/payments/{payment_id:uuid}", opt=FRONT_DESK, name="payments:detail")
async def payment_page(runtime: Runtime, tenant: TenantContext, ws: Workspace, viewer: Viewer, payment_id: uuid.UUID,
                       done: Annotated[str | None, Parameter(max_length=20)] = None) -> Template:
    """One payment: its state, pay link while pending, refunds, receipt; the refund form for owners."""
    return await _detail(runtime, tenant, ws, viewer, payment_id,
                         done=done if done in ("asked", "recorded", "refunded", "paid") else None)


@post("/o/{org_slug:str}/payments/{payment_id:uuid}/paid", opt=FRONT_DESK, name="payments:mark-paid")
async def paid_submit(request: Request[Any, Any, Any], runtime: Runtime, tenant: TenantContext, ws: Workspace, viewer: Viewer,
                      cipher: FieldCipher, payment_id: uuid.UUID) -> Response[Any]:
    """Mark a pending request paid in cash or by transfer; its receipt is numbered."""
    await read_form(request)
    try:
        await rules.settle(tenant.session, viewer, payment_id, succeeded=True)
        await paid_by_payment(tenant.session, payment_id)
        await receipts.queue_receipt(tenant.session, cipher, payment_id, org_name=tenant.tenant.name)
    except NotFound:
        raise
    except Problem as problem:
        return await _detail(runtime, tenant, ws, viewer, payment_id, refund=FormState().show(problem, ws.language), code=problem.status)
    return see_other(request, f"{ws.base}/payments/{payment_id}?done=paid")


@post("/o/{org_slug:str}/payments/{payment_id:uuid}/refund", opt=OWNERS, name="payments:refund")
async def refund_submit(request: Request[Any, Any, Any], runtime: Runtime, tenant: TenantContext, ws: Workspace, viewer: Viewer,
                        cipher: FieldCipher, payment_id: uuid.UUID) -> Response[Any]:
    """Refund all (amount left empty) or part of what is left (owners). Without ``confirm`` the page
    asks to confirm, showing the amount and the cancellation policy; with it, the refund is made."""
    values = await read_form(request)
    payment = await rules.get(tenant.session, viewer, payment_id)
    left = payment.amount_minor - payment.refunded_minor
    text = str(values.get("amount", "")).strip()
    minor, amount_error = (None, None) if text == "" else price_to_minor(text, payment.currency, ws.language)
    if minor is not None and minor < 1:
        amount_error = i18n.gettext(ws.language, "Enter an amount greater than zero.")
    body, form = parse(RefundCreate, {"reason": values.get("reason", ""), **({"amount_minor": minor} if minor else {})},
                       language=ws.language)
    form.values = dict(values)
    if "amount_minor" in form.errors:
        form.errors["amount"] = form.errors.pop("amount_minor")
    if amount_error:
        form.errors["amount"] = amount_error
    elif minor is not None and 0 < left < minor:
        form.errors["amount"] = i18n.gettext(ws.language, "At most %(left)s is left to refund.",
                                             left=_money(left, payment.currency, ws.language))
    if form.errors:
        form.message = form.message or next(iter(form.errors.values()))
        return await _detail(runtime, tenant, ws, viewer, payment_id, refund=form, code=422)
    assert body is not None
    if values.get("confirm") != "yes":
        return await _detail(runtime, tenant, ws, viewer, payment_id, refund=form,
                             confirm={"amount_minor": minor or left, "amount": text, "reason": body.reason})
    try:
        gateway = connect_gateway_for(runtime.settings) if runtime.settings.payments_configured else None
        row = await rules.refund(tenant.session, gateway, viewer, payment_id, amount_minor=body.amount_minor, reason=body.reason)
        await after_refund(tenant.session, cipher, runtime.settings, row, org_name=tenant.tenant.name, tenant_id=tenant.tenant.id)
    except Problem as problem:
        form.show(problem, ws.language)
        if "amount_minor" in form.errors:
            form.errors["amount"] = form.errors.pop("amount_minor")
        return await _detail(runtime, tenant, ws, viewer, payment_id, refund=form, code=problem.status)
    return see_other(request, f"{ws.base}/payments/{payment_id}?done=refunded")


def _money(minor: int, currency: str, language: str) -> str:
    from anima.web.formatting import money

    return money(minor, currency, language)


async def _receipt_document(tenant: TenantContext, ws: Workspace, viewer: Viewer, payment_id: uuid.UUID) -> str:
    payment = await rules.get(tenant.session, viewer, payment_id)
    practice = await get_settings(tenant.session)
    document = await receipts.receipt_html(tenant.session, payment, org_name=tenant.tenant.name, language=ws.language,
                                           zone=ws.time_zone or practice.timezone)
    if document is None:
        raise NotFound("this payment has no receipt yet")
    return document


@get("/o/{org_slug:str}/payments/{payment_id:uuid}/receipt", opt=FRONT_DESK, name="payments:receipt", media_type="text/html")
async def receipt_page(tenant: TenantContext, ws: Workspace, viewer: Viewer, payment_id: uuid.UUID) -> Response[str]:
    """The payment's receipt (and refund notices) as a standalone HTML document, in the page's language."""
    return Response(await _receipt_document(tenant, ws, viewer, payment_id), media_type="text/html")


@get("/o/{org_slug:str}/payments/{payment_id:uuid}/receipt/pdf", opt=FRONT_DESK, name="payments:receipt-pdf",
     media_type="application/pdf")
async def receipt_pdf(tenant: TenantContext, ws: Workspace, viewer: Viewer, payment_id: uuid.UUID) -> Response[bytes]:
    """The same receipt as a PDF download."""
    body = receipts.receipt_pdf(await _receipt_document(tenant, ws, viewer, payment_id))
    return Response(body, media_type="application/pdf", headers={"Content-Disposition": 'attachment; filename="receipt.pdf"'})


PAGE_HANDLERS: list[Any] = [payments_page, create_submit, payment_page, paid_submit, refund_submit, receipt_page, receipt_pdf]
