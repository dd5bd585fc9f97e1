"""The workspace's packages page (owners and assistants), the person page's credits panel, and the
public page where a client buys a package online.

* ``/o/{slug}/packages``: the catalogue with its prices per currency; owners define and edit a
  package (one price per form, in a currency, typed as a decimal amount) and set how bookings use
  credits; owners and assistants sell a package to a patient (a recorded sale: paid in cash or by
  transfer) and see every sale with its credits left. Each form is parsed into the API's request
  schema and goes to the same service (:mod:`anima.domains.packages.services`,
  :mod:`anima.domains.packages.booking_credits`).
* :func:`person_credits`: what the person page shows — the patient's sales with their credits
  left, and their bookings paid by a package ("paid by package (n left)").
* ``/p/{slug}/packages``: the active packages for sale; "Buy" takes the client's name and email
  (an active patient with that email is the buyer, else a lead is captured and converted, as in
  self-booking), creates the online sale's payment request and sends the client to its pay link.
  Without online payments the page answers 503 and says so.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Response, Template

from anima.domains.catalog.models import Service
from anima.domains.catalog.pages import minor_to_price, price_to_minor
from anima.domains.packages import booking_credits, public_pages
from anima.domains.packages import services as rules
from anima.domains.packages.models import CreditEntry, Package, PackageSale
from anima.domains.packages.schemas import PackageOut, PackageUpdate, SaleCreate
from anima.domains.patients.models import Patient
from anima.domains.patients.visibility import Viewer, visible
from anima.http.access import FRONT_DESK, OWNERS, TenantContext
from anima.problems import Problem
from anima.request_body import RequestBody
from anima.tenancy.scope import enter_tenant
from anima.web.forms import FormState, parse, read_form
from anima.web.render import render, see_other
from anima.web.workspace import Workspace

#: how many sales the page lists (newest first)
SALES_SHOWN = 200
#: how many patients the selling form offers (by name)
PATIENTS_OFFERED = 500
#: the currencies the definition form offers first (any ISO 4217 code is accepted)
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CAD", "MXN", "ARS", "COP", "CLP", "JPY")


class RuleForm(RequestBody):
    """The credit-rule form: the organization's rule."""

    when_exhausted: str
    no_show_uses_credit: bool = False


@dataclass(frozen=True)
class SaleRow:
    """One sale as the page lists it."""

    id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str
    package_name: str
    sessions: int
    left: int
    amount_minor: int
    currency: str
    status: str
    expires_at: datetime.datetime
    expired: bool


async def sale_rows(session: Any, viewer: Viewer, *, patient_id: uuid.UUID | None = None, limit: int = SALES_SHOWN) -> list[SaleRow]:
    """Sales the viewer may see (their patients'), newest first, with each one's credits left."""
    left = (sa.select(sa.func.coalesce(sa.func.sum(CreditEntry.delta), 0)).where(CreditEntry.sale_id == PackageSale.id)
            .scalar_subquery())
    where = [*visible(viewer)]
    if patient_id is not None:
        where.append(PackageSale.patient_id == patient_id)
    rows = (await session.execute(
        sa.select(PackageSale, Package.name, Patient.first_name, Patient.last_name, left)
        .join(Package, Package.id == PackageSale.package_id).join(Patient, Patient.id == PackageSale.patient_id)
        .where(*where).order_by(PackageSale.created_at.desc(), PackageSale.id).limit(limit)
    )).all()
    now = datetime.datetime.now(datetime.UTC)
    return [SaleRow(s.id, s.patient_id, f"{first} {last}".strip(), name, s.sessions, int(n), s.amount_minor, s.currency, s.status,
                    s.expires_at, s.expires_at <= now) for s, name, first, last, n in rows]


@dataclass(frozen=True)
class PersonCredits:
    """The person page's credits panel: the sales and the bookings a package paid."""

    sales: list[SaleRow]
    balance: int
    covered: list[tuple[Any, booking_credits.Coverage, str]]
    #: each sale's ledger entries, oldest first (:func:`anima.domains.packages.services.patient_ledger`)
    entries: dict[uuid.UUID, list[Any]] = dataclasses.field(default_factory=dict)


async def person_credits(session: Any, viewer: Viewer, patient_id: uuid.UUID) -> PersonCredits:
    """The patient's sales (credits left), usable balance, each sale's ledger (the API's
    :func:`~anima.domains.packages.services.patient_ledger`) and the latest bookings paid by a
    package (booking, coverage, service name), for the person page."""
    from anima.domains.bookings.models import Booking
    from anima.domains.packages import ledger

    sales = await sale_rows(session, viewer, patient_id=patient_id, limit=50)
    bookings = list((await session.execute(
        sa.select(Booking, Service.name).join(Service, Service.id == Booking.service_id)
        .where(Booking.patient_id == patient_id, Booking.id.in_(sa.select(CreditEntry.booking_id).where(CreditEntry.patient_id == patient_id)))
        .order_by(Booking.starts_at.desc()).limit(20)
    )).all())
    coverage = await booking_credits.coverage(session, [b.id for b, _ in bookings])
    covered = [(b, coverage[b.id], name) for b, name in bookings if b.id in coverage]
    entries: dict[uuid.UUID, list[Any]] = {}
    for entry in reversed((await rules.patient_ledger(session, viewer, patient_id)).entries):
        entries.setdefault(entry.sale_id, []).append(entry)
    return PersonCredits(sales, await ledger.patient_balance(session, patient_id), covered, entries)


def _package_values(p: PackageOut | None) -> dict[str, Any]:
    if p is None:
        return {"currency": "EUR", "validity_days": "90", "sessions": "10"}
    price = p.prices[0] if p.prices else None
    return {"name": p.name, "sessions": str(p.sessions), "validity_days": str(p.validity_days),
            "currency": price.currency if price else "EUR", "amount": minor_to_price(price.amount_minor, price.currency) if price else "",
            "service_ids": [str(s) for s in p.service_ids], "active": "on" if p.active else ""}


def _definition(values: dict[str, Any], language: str) -> tuple[PackageUpdate | None, FormState]:
    """The definition form as :class:`PackageUpdate`: the amount typed as a decimal of the currency."""
    currency = str(values.get("currency", "")).strip().upper()
    minor, price_error = price_to_minor(str(values.get("amount", "")).strip(), currency, language) if values.get("amount") else (None, None)
    data = {k: v for k, v in values.items() if k not in ("amount", "currency")}
    body, form = parse(PackageUpdate, {**data, "prices": [{"currency": currency, "amount_minor": minor or 0}]},
                       integers=("sessions", "validity_days"), booleans=("active",), language=language)
    form.values = dict(values)
    for key in list(form.errors):
        if key.startswith("prices"):
            form.errors.setdefault("amount" if "amount" in key else "currency", form.errors.pop(key))
    if price_error or not values.get("amount"):
        form.errors["amount"] = price_error or form.errors.get("amount") or "—"
        body = None
    if body is None and not form.message:
        form.message = price_error
    return body, form


async def _page(tenant: TenantContext, ws: Workspace, viewer: Viewer, *, forms: dict[str, FormState] | None = None,
                status: int = 200, done: str | None = None, editing: uuid.UUID | None = None) -> Template:
    if status >= 400:
        await tenant.session.rollback()
        await enter_tenant(tenant.session, tenant.tenant.id)
    session = tenant.session
    forms = forms or {}
    packages = [await rules.to_out(session, p) for p in await rules.list_packages(session)]
    services = list((await session.execute(sa.select(Service.id, Service.name).where(Service.active.is_(True))
                                           .order_by(Service.name))).all())
    service_names = {s.id: s.name for s in services}
    patients = list((await session.execute(
        sa.select(Patient.id, Patient.first_name, Patient.last_name).where(Patient.archived_at.is_(None), *visible(viewer))
        .order_by(Patient.first_name, Patient.last_name, Patient.id).limit(PATIENTS_OFFERED))).all())
    edited = next((p for p in packages if p.id == editing), None)
    define = forms.get("define") or FormState(values=_package_values(edited))
    rule = await booking_credits.rule_for(session, None)
    ws.active = "packages"
    return render(
        "packages/packages.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=status, packages=packages,
        services=services, service_names=service_names, patients=patients, sales=await sale_rows(session, viewer),
        define=define, editing=edited, sell_forms=forms, rule=rule, rule_form=forms.get("rule") or FormState(),
        currencies=[(c, c) for c in dict.fromkeys([str(define.value('currency') or 'EUR'), *CURRENCIES])], done=done,
    )


@get("/o/{org_slug:str}/packages", opt=FRONT_DESK, name="packages:page")
async def packages_page(tenant: TenantContext, ws: Workspace, viewer: Viewer,
                        done: Annotated[str | None, Parameter(max_length=20)] = None,
                        edit: Annotated[uuid.UUID | None, Parameter(query="edit")] = None) -> Template:
    """Packages, their sales and balances; the forms the viewer's role may use."""
    return await _page(tenant, ws, viewer, done=done if done in ("defined", "saved", "sold", "rule") else None,
                       editing=edit if ws.is_owner else None)


@post("/o/{org_slug:str}/packages", opt=OWNERS, name="packages:define")
async def define_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer) -> Response[Any]:
    """Define a package (owners)."""
    values = await read_form(request, lists=("service_ids",))
    body, form = _definition(values, ws.language)
    if body is None:
        return await _page(tenant, ws, viewer, forms={"define": form}, status=422)
    try:
        package = await rules.create_package(tenant.session, body)
        if not body.active:
            await rules.update_package(tenant.session, package.id, body)
    except Problem as problem:
        return await _page(tenant, ws, viewer, forms={"define": form.show(problem, ws.language)}, status=problem.status)
    return see_other(request, f"{ws.base}/packages?done=defined")


@post("/o/{org_slug:str}/packages/{package_id:uuid}", opt=OWNERS, name="packages:edit")
async def edit_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer,
                      package_id: uuid.UUID) -> Response[Any]:
    """Redefine a package (owners): name, sessions, validity, the price, services, on sale or not."""
    await rules.get_package(tenant.session, package_id)
    values = await read_form(request, lists=("service_ids",))
    body, form = _definition(values, ws.language)
    if body is None:
        return await _page(tenant, ws, viewer, forms={"define": form}, status=422, editing=package_id)
    try:
        await rules.update_package(tenant.session, package_id, body)
    except Problem as problem:
        return await _page(tenant, ws, viewer, forms={"define": form.show(problem, ws.language)}, status=problem.status,
                           editing=package_id)
    return see_other(request, f"{ws.base}/packages?done=saved")


@post("/o/{org_slug:str}/packages/{package_id:uuid}/sales", opt=FRONT_DESK, name="packages:sell")
async def sell_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer,
                      package_id: uuid.UUID) -> Response[Any]:
    """Record a sale of a package to a patient (paid in cash or by transfer): its credits at once."""
    values = await read_form(request)
    body, form = parse(SaleCreate, {**values, "mode": "recorded"}, language=ws.language)
    key = f"sell-{package_id}"
    if body is None:
        return await _page(tenant, ws, viewer, forms={key: form}, status=422)
    try:
        await rules.sell(tenant.session, viewer, package_id, body)
    except Problem as problem:
        return await _page(tenant, ws, viewer, forms={key: form.show(problem, ws.language)}, status=problem.status)
    return see_other(request, f"{ws.base}/packages?done=sold")


@post("/o/{org_slug:str}/packages/credit-rule", opt=OWNERS, name="packages:rule")
async def rule_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer) -> Response[Any]:
    """Set the organization's credit rule (owners)."""
    values = await read_form(request)
    body, form = parse(RuleForm, values, booleans=("no_show_uses_credit",), language=ws.language)
    if body is None:
        return await _page(tenant, ws, viewer, forms={"rule": form}, status=422)
    try:
        await booking_credits.set_rule(tenant.session, None, no_show_uses_credit=body.no_show_uses_credit,
                                       when_exhausted=body.when_exhausted)
    except Problem as problem:
        return await _page(tenant, ws, viewer, forms={"rule": form.show(problem, ws.language)}, status=problem.status)
    return see_other(request, f"{ws.base}/packages?done=rule")


PAGE_HANDLERS: list[Any] = [packages_page, define_submit, edit_submit, sell_submit, rule_submit, *public_pages.PAGE_HANDLERS]
