"""The workspace's invoices page (owners and assistants): the invoices and credit notes, filtered
by status and paged; a draft for a person (one line, typed as a decimal amount of the currency);
issue, mark paid, void and credit note (void and credit notes: owners, as in the API); each
invoice's PDF. Every action calls the same service the JSON API does
(:mod:`anima.domains.invoices.services`) and comes back to the list (303) or shows the refusal.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import sqlalchemy as sa
from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Response, Template

from anima.domains.catalog.pages import price_to_minor
from anima.domains.invoices import pdf
from anima.domains.invoices import services as rules
from anima.domains.invoices.models import Invoice
from anima.domains.invoices.schemas import CreditNoteCreate, InvoiceCreate
from anima.domains.patients.models import Patient
from anima.domains.patients.visibility import Viewer, visible
from anima.domains.settings.services import get_settings
from anima.http.access import FRONT_DESK, OWNERS, TenantContext
from anima.http.pagination import Page
from anima.problems import Problem
from anima.tenancy.scope import enter_tenant
from anima.web.forms import FormState, parse, read_form
from anima.web.render import render, see_other
from anima.web.workspace import Workspace

#: invoices per page
PAGE_SIZE = 25
STATUSES = ("DRAFT", "ISSUED", "PAID", "VOID")
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CAD", "MXN")


def _url(ws: Workspace, status: str | None, page: int, done: str | None = None) -> str:
    query = [f"status={status}"] if status else []
    if page > 1:
        query.append(f"offset={(page - 1) * PAGE_SIZE}")
    if done:
        query.append(f"done={done}")
    return f"{ws.base}/invoices" + ("?" + "&".join(query) if query else "")


async def _page(tenant: TenantContext, ws: Workspace, viewer: Viewer, *, status: str | None = None, page: int = 1,
                draft: FormState | None = None, message: str | None = None, code: int = 200, done: str | None = None) -> Template:
    if code >= 400:
        await tenant.session.rollback()
        await enter_tenant(tenant.session, tenant.tenant.id)
    session = tenant.session
    invoices, total = await rules.list_invoices(session, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, status=status)
    patients = list((await session.execute(
        sa.select(Patient.id, Patient.first_name, Patient.last_name).where(Patient.archived_at.is_(None), *visible(viewer))
        .order_by(Patient.first_name, Patient.last_name, Patient.id).limit(500))).all())
    names = {r.id: f"{r.first_name} {r.last_name}".strip() for r in (await session.execute(
        sa.select(Patient.id, Patient.first_name, Patient.last_name).where(Patient.id.in_({i.patient_id for i in invoices})))).all()}
    credited = set((await session.execute(sa.select(Invoice.corrects_id).where(Invoice.corrects_id.is_not(None)))).scalars())
    ws.active = "invoices"
    return render(
        "invoices/invoices.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=code, invoices=invoices, total=total,
        filter_status=status, page=page, pages=max(1, -(-total // PAGE_SIZE)), patients=patients, names=names, credited=credited,
        draft=draft or FormState(values={"currency": "EUR", "quantity": "1"}), message=message, done=done,
        statuses=STATUSES, person_options=[(str(r.id), f"{r.first_name} {r.last_name}".strip()) for r in patients], currencies=[(c, c) for c in CURRENCIES], url=lambda s, p: _url(ws, s, p),
    )


@get("/o/{org_slug:str}/invoices", opt=FRONT_DESK, name="invoices:page")
async def invoices_page(
    tenant: TenantContext, ws: Workspace, viewer: Viewer,
    page: Page, status: Annotated[str | None, Parameter(query="status", max_length=10)] = None,
    done: Annotated[str | None, Parameter(max_length=20)] = None,
) -> Template:
    """Invoices and credit notes, newest first, by status, 25 a page (``offset`` pages)."""
    return await _page(tenant, ws, viewer, status=status if status in STATUSES else None, page=page.offset // PAGE_SIZE + 1,
                       done=done if done in ("drafted", "issued", "paid", "voided", "credited") else None)


@post("/o/{org_slug:str}/invoices", opt=FRONT_DESK, name="invoices:draft")
async def draft_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer) -> Response[Any]:
    """Draft an invoice of one line for a person."""
    values = await read_form(request)
    currency = str(values.get("currency", "")).strip().upper()
    minor, amount_error = price_to_minor(str(values.get("amount", "")).strip(), currency, ws.language)
    quantity = str(values.get("quantity", "1")).strip() or "1"
    body, form = parse(InvoiceCreate, {"patient_id": values.get("patient_id", ""), "currency": currency, "lines": [{
        "description": str(values.get("description", "")), "unit_minor": minor or 0,
        "quantity": int(quantity) if quantity.isdigit() else -1}]}, language=ws.language)
    form.values = dict(values)
    for key in list(form.errors):
        if key.startswith("lines"):
            target = "quantity" if "quantity" in key else "amount" if "unit_minor" in key else "description"
            form.errors.setdefault(target, form.errors.pop(key))
    if amount_error:
        form.errors["amount"] = amount_error
        form.message = form.message or amount_error
        body = None
    if body is None:
        return await _page(tenant, ws, viewer, draft=form, code=422)
    try:
        await rules.create_draft(tenant.session, viewer, body)
    except Problem as problem:
        return await _page(tenant, ws, viewer, draft=form.show(problem, ws.language), code=problem.status)
    return see_other(request, _url(ws, None, 1, "drafted"))


async def _act(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, call: Any, done: str) -> Response[Any]:
    values = await read_form(request)
    status = values.get("status") if values.get("status") in STATUSES else None
    try:
        await call(values)
    except Problem as problem:
        return await _page(tenant, ws, viewer, status=status, message=FormState().show(problem, ws.language).message, code=problem.status)
    return see_other(request, _url(ws, status, 1, done))


@post("/o/{org_slug:str}/invoices/{invoice_id:uuid}/issue", opt=FRONT_DESK, name="invoices:issue")
async def issue_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, invoice_id: uuid.UUID) -> Response[Any]:
    """Issue a draft: its number, frozen."""
    return await _act(request, tenant, ws, viewer, lambda _: rules.issue(tenant.session, viewer, invoice_id), "issued")


@post("/o/{org_slug:str}/invoices/{invoice_id:uuid}/pay", opt=FRONT_DESK, name="invoices:pay")
async def pay_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, invoice_id: uuid.UUID) -> Response[Any]:
    """Mark an issued invoice paid."""
    return await _act(request, tenant, ws, viewer, lambda _: rules.mark_paid(tenant.session, viewer, invoice_id), "paid")


@post("/o/{org_slug:str}/invoices/{invoice_id:uuid}/void", opt=OWNERS, name="invoices:void")
async def void_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, invoice_id: uuid.UUID) -> Response[Any]:
    """Void an issued, unpaid invoice (owners)."""
    return await _act(request, tenant, ws, viewer, lambda _: rules.void(tenant.session, viewer, invoice_id), "voided")


@post("/o/{org_slug:str}/invoices/{invoice_id:uuid}/credit-note", opt=OWNERS, name="invoices:credit-note")
async def credit_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, invoice_id: uuid.UUID) -> Response[Any]:
    """Correct an issued or paid invoice with a credit note (owners); the reason is required."""
    async def call(values: dict[str, Any]) -> Any:
        body, form = parse(CreditNoteCreate, {"reason": values.get("reason", "")}, language=ws.language)
        if body is None:
            from anima.problems import InvalidInput

            raise InvalidInput.field("reason", "required", "give the reason of the credit note")
        return await rules.credit_note(tenant.session, viewer, invoice_id, reason=body.reason)

    return await _act(request, tenant, ws, viewer, call, "credited")


@get("/o/{org_slug:str}/invoices/{invoice_id:uuid}/pdf", opt=FRONT_DESK, name="invoices:pdf", media_type="application/pdf")
async def invoice_pdf(tenant: TenantContext, viewer: Viewer, invoice_id: uuid.UUID) -> Response[bytes]:
    """An invoice's PDF (a draft in the organization's language, an issued one in its frozen one)."""
    inv = await rules.get(tenant.session, viewer, invoice_id)
    patient = await tenant.session.get(Patient, inv.patient_id)
    practice = await get_settings(tenant.session)
    body = pdf.render_pdf(inv, await rules.lines_of(tenant.session, inv.id), organization=tenant.tenant.name,
                          patient_name=f"{patient.first_name} {patient.last_name}".strip() if patient else "",
                          time_zone=practice.timezone, language=practice.locale if inv.status == "DRAFT" else None)
    name = (inv.number or "draft").replace('"', "")
    return Response(body, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})


PAGE_HANDLERS: list[Any] = [invoices_page, draft_submit, issue_submit, pay_submit, void_submit, credit_submit, invoice_pdf]
