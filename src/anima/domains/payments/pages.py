"""The workspace's money page (owners): whether patients can pay online (the Stripe account's state
and a way to connect it), the package catalogue and the invoices with their PDFs.

Connecting posts a form; the page opens the onboarding in its own platform transaction (the
request's is the tenant's) and sends the owner to Stripe (303). Without Stripe settings the page
says payments are off and that cash and bank transfers are still recorded.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import sqlalchemy as sa
from babel.numbers import format_percent
from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Response, Template

from anima.billing.plans import plan_for
from anima.domains.invoices import pdf
from anima.domains.invoices import services as invoice_rules
from anima.domains.packages import services as package_rules
from anima.domains.patients.models import Patient
from anima.domains.patients.visibility import Viewer
from anima.domains.payments import connect
from anima.domains.payments.stripe_connect import connect_gateway_for
from anima.domains.settings.services import get_settings
from anima.http.access import OWNERS, TenantContext
from anima.identity.models import User
from anima.problems import Problem
from anima.runtime import Runtime
from anima.web.forms import FormState, read_form
from anima.web.render import render, see_other
from anima.web.workspace import Workspace

#: how many invoices the page lists (newest first)
INVOICES_SHOWN = 100


async def _page(runtime: Runtime, tenant: TenantContext, ws: Workspace, *, form: FormState | None = None, status: int = 200,
                returned: str | None = None) -> Template:
    async with runtime.sessionmaker() as platform:
        account = await connect.get_account(platform, tenant.tenant.id)
    packages = [await package_rules.to_out(tenant.session, p) for p in await package_rules.list_packages(tenant.session)]
    invoices, total = await invoice_rules.list_invoices(tenant.session, limit=INVOICES_SHOWN, offset=0)
    ws.active = "money"
    return render(
        "payments/money.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=status,
        payments_status=connect.payments_status(runtime.settings, account), account=account,
        fee_text=format_percent(plan_for(tenant.tenant.tier).application_fee_bps / 10000, format="#,##0.##%", locale=ws.language), packages=packages, invoices=invoices, invoices_total=total,
        form=form or FormState(), returned=returned == "connected",
    )


@get("/o/{org_slug:str}/money", opt=OWNERS, name="payments:money")
async def money_page(
    runtime: Runtime, tenant: TenantContext, ws: Workspace, connected: Annotated[str | None, Parameter(query="stripe", max_length=16)] = None,
) -> Template:
    """Online payments, packages and invoices (owners)."""
    return await _page(runtime, tenant, ws, returned=connected)


@post("/o/{org_slug:str}/money/connect", opt=OWNERS, name="payments:connect")
async def connect_submit(request: Request[Any, Any, Any], runtime: Runtime, tenant: TenantContext, ws: Workspace) -> Response[Any]:
    """Create (once) the practice's Stripe account and send the owner to Stripe's onboarding (303)."""
    await read_form(request)
    back = f"{runtime.settings.public_url.rstrip('/')}{ws.base}/money?stripe=connected"
    try:
        gateway = connect_gateway_for(runtime.settings)
        async with runtime.sessionmaker() as platform:
            email = await platform.scalar(sa.select(User.email).where(User.id == tenant.user_id))
            _, url = await connect.start_onboarding(platform, gateway, tenant_id=tenant.tenant.id, email=email, refresh_url=back, return_url=back)
            await platform.commit()
    except Problem as problem:
        return await _page(runtime, tenant, ws, form=FormState().show(problem, ws.language), status=problem.status)
    return see_other(request, url)


@get("/o/{org_slug:str}/money/invoices/{invoice_id:uuid}/pdf", opt=OWNERS, name="payments:invoice-pdf", media_type="application/pdf")
async def invoice_pdf(tenant: TenantContext, viewer: Viewer, invoice_id: uuid.UUID) -> Response[bytes]:
    """An invoice's PDF, for the page's download link."""
    inv = await invoice_rules.get(tenant.session, viewer, invoice_id)
    patient = await tenant.session.get(Patient, inv.patient_id)
    practice = await get_settings(tenant.session)
    body = pdf.render_pdf(inv, await invoice_rules.lines_of(tenant.session, inv.id), organization=tenant.tenant.name,
                          patient_name=f"{patient.first_name} {patient.last_name}".strip() if patient else "",
                          time_zone=practice.timezone, language=practice.locale if inv.status == "DRAFT" else None)
    name = (inv.number or "draft").replace('"', "")
    return Response(body, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})


from anima.domains.payments import earnings_pages, request_pages  # noqa: E402 - their routes join this module's

PAGE_HANDLERS: list[Any] = [money_page, connect_submit, invoice_pdf, *request_pages.PAGE_HANDLERS, *earnings_pages.PAGE_HANDLERS]
