"""HTTP routes of invoices: owners and assistants draft, issue, mark paid and download; owners void,
correct with credit notes and set the numbering prefix and tax rate."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, get, post, put
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from anima.crypto.cipher import FieldCipher
from anima.domains.invoices import mailing, pdf
from anima.domains.invoices import services as rules
from anima.domains.invoices.models import Invoice
from anima.domains.invoices.schemas import CreditNoteCreate, InvoiceEmailRequest, InvoiceEmailOut, InvoiceCreate, InvoiceOut, InvoiceSettingsIn, InvoiceSettingsOut
from anima.domains.patients.models import Patient
from anima.domains.patients.visibility import Viewer
from anima.domains.settings.services import get_settings
from anima.http.access import FRONT_DESK, OWNERS, MemberContext, TenantContext
from anima.http.openapi import answers
from anima.http.pagination import OffsetPagination, Page
from anima.problems import NotFound
from anima.runtime import Runtime
from anima.tenancy.scope import enter_tenant


class InvoicesController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/invoices"
    tags = ["invoices"]

    @get("/settings", opt=FRONT_DESK, summary="Invoice number prefix and the organization's tax rate")
    async def read_settings(self, tenant: TenantContext) -> InvoiceSettingsOut:
        row = await rules.get_invoice_settings(tenant.session)
        return InvoiceSettingsOut(row.prefix, row.tax_rate_bps, row.tax_label)

    @put("/settings", opt=OWNERS, summary="Set the invoice number prefix and the tax rate (basis points; owners)")
    async def write_settings(self, tenant: TenantContext, data: InvoiceSettingsIn) -> InvoiceSettingsOut:
        row = await rules.update_invoice_settings(tenant.session, data)
        return InvoiceSettingsOut(row.prefix, row.tax_rate_bps, row.tax_label)

    @post("/", opt=FRONT_DESK, status_code=HTTP_201_CREATED, summary="Draft an invoice (lines, discounts; totals in minor units)")
    async def create(self, tenant: TenantContext, viewer: Viewer, data: InvoiceCreate) -> InvoiceOut:
        return await rules.to_out(tenant.session, await rules.create_draft(tenant.session, viewer, data))

    @get("/", opt=FRONT_DESK, summary="Invoices and credit notes, newest first")
    async def list_invoices(self, tenant: TenantContext, page: Page) -> OffsetPagination[InvoiceOut]:
        rows, total = await rules.list_invoices(tenant.session, limit=page.limit, offset=page.offset)
        return OffsetPagination(items=[await rules.to_out(tenant.session, r) for r in rows], limit=page.limit, offset=page.offset, total=total)

    @get("/{invoice_id:uuid}", opt=FRONT_DESK, summary="One invoice")
    async def read(self, tenant: TenantContext, viewer: Viewer, invoice_id: uuid.UUID) -> InvoiceOut:
        return await rules.to_out(tenant.session, await rules.get(tenant.session, viewer, invoice_id))

    @post("/{invoice_id:uuid}/issue", opt=FRONT_DESK | answers(409), status_code=HTTP_200_OK, summary="Issue a draft: its number, frozen")
    async def issue(self, tenant: TenantContext, viewer: Viewer, invoice_id: uuid.UUID) -> InvoiceOut:
        return await rules.to_out(tenant.session, await rules.issue(tenant.session, viewer, invoice_id))

    @post("/{invoice_id:uuid}/pay", opt=FRONT_DESK | answers(409), status_code=HTTP_200_OK, summary="Mark an issued invoice paid")
    async def pay(self, tenant: TenantContext, viewer: Viewer, invoice_id: uuid.UUID) -> InvoiceOut:
        return await rules.to_out(tenant.session, await rules.mark_paid(tenant.session, viewer, invoice_id))

    @post("/{invoice_id:uuid}/void", opt=OWNERS | answers(409), status_code=HTTP_200_OK, summary="Void an issued, unpaid invoice (owners)")
    async def void(self, tenant: TenantContext, viewer: Viewer, invoice_id: uuid.UUID) -> InvoiceOut:
        return await rules.to_out(tenant.session, await rules.void(tenant.session, viewer, invoice_id))

    @post("/{invoice_id:uuid}/credit-note", opt=OWNERS | answers(409), status_code=HTTP_201_CREATED,
          summary="Correct an issued invoice with a credit note (owners)")
    async def credit(self, tenant: TenantContext, viewer: Viewer, invoice_id: uuid.UUID, data: CreditNoteCreate) -> InvoiceOut:
        return await rules.to_out(tenant.session, await rules.credit_note(tenant.session, viewer, invoice_id, reason=data.reason))

    @get("/{invoice_id:uuid}/pdf", opt=FRONT_DESK, media_type="application/pdf", summary="The invoice as a PDF, in the organization's language")
    async def download(self, tenant: TenantContext, viewer: Viewer, invoice_id: uuid.UUID) -> Response[bytes]:
        inv: Invoice = await rules.get(tenant.session, viewer, invoice_id)
        patient = await tenant.session.get(Patient, inv.patient_id)
        practice = await get_settings(tenant.session)
        body = pdf.render_pdf(inv, await rules.lines_of(tenant.session, inv.id), organization=tenant.tenant.name,
                              patient_name=f"{patient.first_name} {patient.last_name}".strip() if patient else "",
                              time_zone=practice.timezone, language=practice.locale if inv.status == "DRAFT" else None)
        name = (inv.number or "draft").replace('"', "")
        return Response(body, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})


class InvoiceEmailsController(Controller):
    """Sending an issued invoice to its patient (read in the tenant, queued in the platform outbox)."""

    path = "/api/v1/orgs/{org_slug:str}/invoice-emails"
    tags = ["invoices"]

    @post("/", opt=FRONT_DESK | answers(409), status_code=HTTP_201_CREATED, summary="Email an issued invoice to its patient")
    async def send(self, runtime: Runtime, member: MemberContext, data: InvoiceEmailRequest) -> InvoiceEmailOut:
        async with runtime.sessionmaker() as tenant_session, tenant_session.begin():
            if await enter_tenant(tenant_session, member.tenant.id) is None:
                raise NotFound("tenant not found")
            message = await mailing.compose(tenant_session, FieldCipher(runtime.keyring, tenant_session, member.tenant.id),
                                            data.invoice_id, organization=member.tenant.name)
        await mailing.queue(member.session, message, tenant_id=member.tenant.id)
        return InvoiceEmailOut(invoice_id=data.invoice_id, queued=True)


ROUTE_HANDLERS = [InvoicesController, InvoiceEmailsController]
