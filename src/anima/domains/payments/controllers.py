"""HTTP routes of payment requests and of the practice's Stripe Connect account.

* members: payment requests (owners and assistants create and record cash or transfers; therapists
  read); owners refund (``POST …/payments/{id}/refunds``).
* owners: ``GET …/payments-account`` (whether payments are on, the account's state, the platform's
  fee), ``POST …/payments-account/onboarding`` (a Stripe onboarding link), ``POST …/refresh``.
* patients: ``GET /api/v1/pay/{org_slug}/{token}`` — the public pay link: 303 to Stripe Checkout on
  the practice's account (no token; the link is the secret).
* Stripe: ``POST /api/v1/payments/webhooks/stripe`` — the Connect webhook endpoint, signed like
  billing's (same secret), no auth.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from zoneinfo import ZoneInfo
from typing import Any, Literal

import sqlalchemy as sa
from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.models import ConnectedAccount
from anima.billing.plans import plan_for
from anima.billing.schemas import WebhookAck
from anima.billing.stripe_client import InvalidWebhook, PaymentsNotConfigured, verify_webhook
from anima.crypto.cipher import FieldCipher
from anima.domains.invoices.services import paid_by_payment
from anima.domains.payments.transfers import after_refund
from anima.domains.payments import booking_checkout, connect
from anima.domains.payments import earnings as earnings_rules
from anima.domains.payments.getting_paid import ROUTES as GETTING_PAID_ROUTES
from anima.domains.settings.services import get_settings
from anima.domains.payments.schemas import ConnectOut, ConnectStart, EarningsOut, RefundCreate, RefundOut
from anima.domains.payments.stripe_connect import connect_gateway_for
from anima.domains.payments.webhooks import MalformedConnectEvent, process_connect_event
from anima.http.access import CLINICIANS, OWNERS, MemberContext
from anima.identity.models import User
from anima.problems import NotFound, Problem
from anima.runtime import Runtime
from anima.tenancy import registry
from anima.tenancy.scope import enter_tenant

from anima.domains.patients.visibility import Viewer
from anima.domains.payments import services as rules
from anima.domains.payments.schemas import PaymentCreate, PaymentFailure, PaymentOut
from anima.http.access import EVERY_MEMBER, FRONT_DESK, TenantContext
from anima.http.openapi import answers
from anima.http.pagination import OffsetPagination, Page


class PaymentsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/payments"
    tags = ["payments"]

    @post("/", opt=FRONT_DESK, status_code=HTTP_201_CREATED, summary="Ask a patient for a payment (PENDING)")
    async def create(self, tenant: TenantContext, viewer: Viewer, data: PaymentCreate) -> PaymentOut:
        return rules.to_out(await rules.create(tenant.session, viewer, data), tenant.tenant.slug)

    @get("/", opt=EVERY_MEMBER, summary="Payment requests, newest first")
    async def list_payments(
        self, tenant: TenantContext, viewer: Viewer, page: Page, status: Literal["PENDING", "SUCCEEDED", "FAILED"] | None = None,
        patient_id: uuid.UUID | None = None,
    ) -> OffsetPagination[PaymentOut]:
        rows, total = await rules.list_payments(tenant.session, viewer, limit=page.limit, offset=page.offset, status=status, patient_id=patient_id)
        return OffsetPagination(items=[rules.to_out(p, tenant.tenant.slug) for p in rows], limit=page.limit, offset=page.offset, total=total)

    @get("/{payment_id:uuid}", opt=EVERY_MEMBER, summary="One payment request")
    async def read(self, tenant: TenantContext, viewer: Viewer, payment_id: uuid.UUID) -> PaymentOut:
        return rules.to_out(await rules.get(tenant.session, viewer, payment_id), tenant.tenant.slug)

    @post("/{payment_id:uuid}/succeed", opt=FRONT_DESK | answers(409), status_code=HTTP_200_OK, summary="Mark a pending payment paid")
    async def succeed(self, tenant: TenantContext, viewer: Viewer, payment_id: uuid.UUID) -> PaymentOut:
        payment = await rules.settle(tenant.session, viewer, payment_id, succeeded=True)
        await paid_by_payment(tenant.session, payment.id)
        return rules.to_out(payment, tenant.tenant.slug)

    @post("/{payment_id:uuid}/fail", opt=FRONT_DESK | answers(409), status_code=HTTP_200_OK, summary="Mark a pending payment failed")
    async def fail(self, tenant: TenantContext, viewer: Viewer, payment_id: uuid.UUID, data: PaymentFailure) -> PaymentOut:
        return rules.to_out(await rules.settle(tenant.session, viewer, payment_id, succeeded=False, reason=data.reason))

    @post("/{payment_id:uuid}/refunds", opt=OWNERS | answers(409, 502, 503), status_code=HTTP_201_CREATED,
          summary="Refund all or part of a paid payment (owners; never more than what is left)")
    async def refund(self, runtime: Runtime, tenant: TenantContext, viewer: Viewer, cipher: FieldCipher, payment_id: uuid.UUID,
                     data: RefundCreate) -> RefundOut:
        gateway = connect_gateway_for(runtime.settings) if runtime.settings.payments_configured else None
        row = await rules.refund(tenant.session, gateway, viewer, payment_id, amount_minor=data.amount_minor, reason=data.reason)
        await after_refund(tenant.session, cipher, runtime.settings, row, org_name=tenant.tenant.name,
                           tenant_id=tenant.tenant.id)  # notice; a paid-out share reversed
        return rules.refund_out(row)

    @get("/{payment_id:uuid}/refunds", opt=EVERY_MEMBER, summary="The refunds of a payment, in order")
    async def refunds(self, tenant: TenantContext, viewer: Viewer, payment_id: uuid.UUID) -> list[RefundOut]:
        return [rules.refund_out(r) for r in await rules.refunds_of(tenant.session, viewer, payment_id)]


def _connect_out(runtime: Runtime, account: ConnectedAccount | None, tier: str, url: str | None = None) -> ConnectOut:
    status = connect.payments_status(runtime.settings, account)
    fee = plan_for(tier).application_fee_bps
    if account is None:
        return ConnectOut(status=status, payments_on=False, application_fee_bps=fee, onboarding_url=url)
    return ConnectOut(
        status=status, payments_on=status == "enabled", account_id=account.stripe_account_id, charges_enabled=account.charges_enabled,
        payouts_enabled=account.payouts_enabled, details_submitted=account.details_submitted,
        currently_due=[d for d in account.currently_due.split(",") if d], disabled_reason=account.disabled_reason,
        application_fee_bps=fee, onboarding_url=url,
    )


class PaymentsAccountController(Controller):
    """The practice's Stripe Connect account, for its owners."""

    path = "/api/v1/orgs/{org_slug:str}/payments-account"
    tags = ["payments"]

    @get("/", opt=OWNERS, summary="Whether patients can pay online, and the Stripe account's state (owners)")
    async def read(self, runtime: Runtime, member: MemberContext) -> ConnectOut:
        return _connect_out(runtime, await connect.get_account(member.session, member.tenant.id), member.tenant.tier)

    @post("/onboarding", opt=OWNERS | answers(502, 503), status_code=HTTP_200_OK,
          summary="Connect the practice's Stripe account: a Stripe onboarding link (owners)")
    async def onboarding(self, runtime: Runtime, member: MemberContext, data: ConnectStart) -> ConnectOut:
        gateway = connect_gateway_for(runtime.settings)
        email = await member.session.scalar(sa.select(User.email).where(User.id == member.user_id))
        back = runtime.settings.public_url.rstrip("/") + data.return_path
        account, url = await connect.start_onboarding(
            member.session, gateway, tenant_id=member.tenant.id, email=email, refresh_url=back, return_url=back,
        )
        return _connect_out(runtime, account, member.tenant.tier, url)

    @post("/refresh", opt=OWNERS | answers(502, 503), status_code=HTTP_200_OK,
          summary="Read the account's state from Stripe now (owners)")
    async def refresh(self, runtime: Runtime, member: MemberContext) -> ConnectOut:
        account = await connect.refresh(member.session, connect_gateway_for(runtime.settings), member.tenant.id)
        return _connect_out(runtime, account, member.tenant.tier)


class PaymentsOff(Problem):
    """409: the practice cannot take card payments (no Stripe settings, or its account is not enabled)."""

    status, kind, title = 409, "payments-off", "Online payments are off"


class PayLinkController(Controller):
    """The public pay link of a payment request."""

    path = "/api/v1/pay"
    tags = ["payments"]

    @get("/{practice:str}/{token:str}", opt=answers(404, 409, 502, 503), status_code=HTTP_303_SEE_OTHER,
         summary="Pay a payment request: redirects to Stripe Checkout on the practice's account (no token)")
    async def pay(self, runtime: Runtime, db_session: AsyncSession, practice: str, token: str) -> Redirect:
        settings = runtime.settings
        if len(token) > 64 or len(practice) > 63:
            raise NotFound("no such payment link")
        tenant_id = await registry.id_of(db_session, practice)
        if tenant_id is None:
            raise NotFound("no such payment link")
        if not settings.payments_configured:
            raise PaymentsNotConfigured("Online payments are off on this Anima deployment; ask the practice how to pay (cash or bank transfer).")
        account = await connect.get_account(db_session, tenant_id)
        if account is None or account.state != "enabled":
            raise PaymentsOff("This practice does not take card payments online yet; ask it how to pay (cash or bank transfer).")
        gateway = connect_gateway_for(settings)
        back = f"{settings.public_url.rstrip('/')}/api/v1/pay/{practice}/{token}"
        scoped = await enter_tenant(db_session, tenant_id)  # platform reads are done: from here on, the tenant only
        if scoped is None:
            raise NotFound("no such payment link")
        payment = await rules.by_token(db_session, token, lock=True)
        from anima.domains.packages.public_pages import return_urls as package_return_urls  # the packages page imports payments

        success, cancel = (await booking_checkout.return_urls(db_session, settings, practice, tenant_id, payment)
                           or await package_return_urls(db_session, settings, practice, payment)
                           or (back + "?paid=1", back + "?cancelled=1"))  # a booking's hold or a package: back to their pages
        url = await rules.open_checkout(
            db_session, gateway, payment, account_id=account.stripe_account_id, tier=scoped.tier,
            success_url=success, cancel_url=cancel, tenant_id=tenant_id,
        )
        return Redirect(url, status_code=HTTP_303_SEE_OTHER)


class ConnectWebhookController(Controller):
    """Stripe's Connect webhook endpoint (events on practices' accounts)."""

    path = "/api/v1/payments/webhooks/stripe"
    tags = ["payments"]

    @post("/", opt=answers(400, 413, 503), status_code=HTTP_200_OK, summary="Stripe Connect webhook (signed by Stripe; no bearer token)")
    async def receive(self, request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession) -> WebhookAck:
        payload = await request.body()
        event = verify_webhook(payload, request.headers.get("stripe-signature"), runtime.settings)
        try:
            gateway = connect_gateway_for(runtime.settings) if runtime.settings.payments_configured else None
            result = await process_connect_event(db_session, event, runtime.settings, gateway=gateway)
        except MalformedConnectEvent as exc:
            field, _, message = str(exc).partition(": ")
            raise InvalidWebhook(f"the event is malformed: {exc}", errors=[
                {"field": field, "rule": "stripe-event", "message": message or str(exc)}]) from None
        return WebhookAck(received=True, result=result)


class EarningsController(Controller):
    """Therapists' earnings: owners see everyone's, a therapist only their own."""

    path = "/api/v1/orgs/{org_slug:str}/earnings"
    tags = ["payments"]

    async def _rows(
        self, tenant: TenantContext, start: datetime.date | None, end: datetime.date | None, therapist_id: uuid.UUID | None,
    ) -> list[Any]:
        if not tenant.is_owner:
            therapist_id = tenant.user_id  # a therapist sees their own earnings only
        zone = (await get_settings(tenant.session)).timezone
        end = end or datetime.datetime.now(ZoneInfo(zone)).date()
        start = start or end - datetime.timedelta(days=29)  # without dates: the last 30 days
        lower, upper = earnings_rules.period_bounds(start, end, zone)
        return await earnings_rules.earnings(tenant.session, lower=lower, upper=upper, therapist_id=therapist_id)

    @get("/", opt=CLINICIANS, summary="Earnings per therapist and currency over a period (dates inclusive, the practice's zone; default the last 30 days)")
    async def read(
        self, tenant: TenantContext, start: datetime.date | None = None, end: datetime.date | None = None, therapist_id: uuid.UUID | None = None,
    ) -> list[EarningsOut]:
        return [EarningsOut(**dataclasses.asdict(r)) for r in await self._rows(tenant, start, end, therapist_id)]

    @get("/csv", opt=CLINICIANS, media_type="text/csv", summary="The same earnings as CSV")
    async def export(
        self, tenant: TenantContext, start: datetime.date | None = None, end: datetime.date | None = None, therapist_id: uuid.UUID | None = None,
    ) -> Response[str]:
        body = earnings_rules.to_csv(await self._rows(tenant, start, end, therapist_id))
        return Response(body, media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="earnings.csv"'})


ROUTE_HANDLERS = [PaymentsController, EarningsController, PaymentsAccountController, PayLinkController, ConnectWebhookController,
                  *GETTING_PAID_ROUTES]
