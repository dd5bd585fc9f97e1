"""Pages of services: the list (who may read services per the API), creating and editing (owners).

The form sends the same :class:`~anima.domains.catalog.schemas.ServiceCreate` /
:class:`~anima.domains.catalog.schemas.ServiceUpdate` the API validates, to the same service
functions. The one conversion the form adds is the price: typed as a decimal amount of the chosen
currency ("60.00" EUR) and turned exactly into minor units (6000) with the currency's own number
of decimals (ISO 4217 through CLDR); more decimals than the currency has is an error beside the
field, never a rounding. A plan's active-services limit is explained with the tier that lifts it.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from babel.numbers import get_currency_name, get_currency_precision, get_decimal_symbol
from litestar import Request, get, post
from litestar.response import Response, Template

from anima.domains.catalog.services import visible_to as service_visible_to
from anima.domains.catalog import services as service_rules
from anima.domains.catalog.schemas import ServiceCreate, ServiceUpdate, TherapistAssignment
from anima.domains.staff.models import StaffMember
from anima.http.access import EVERY_MEMBER, OWNERS, TenantContext
from anima.problems import InvalidInput, Problem
from anima.tenancy.scope import enter_tenant
from anima.web.forms import FormState, parse, read_form
from anima.web.i18n import gettext
from anima.web.problem_text import N_
from anima.web.render import render, see_other
from anima.web.workspace import Workspace

#: how many services the list shows (the largest plan allows 100 active ones)
LIST_SIZE = 500
#: the largest price the schema accepts, in minor units
MAX_PRICE_MINOR = 100_000_000
#: a decimal amount: digits, then optionally one decimal sign (point or comma) and digits
_AMOUNT = re.compile(r"^(\d{1,12})(?:[.,](\d{0,12}))?$")
_INTEGERS = ("duration_minutes", "capacity")

#: sentences for the rules of the services domain, by rule (the service speaks English)
_RULES = {
    "iso4217": N_("Choose a currency from the list."),
    "required-for-group": N_("A group service needs a capacity of at least 2."),
    "one-on-one": N_("A one-to-one service has no capacity: leave this empty."),
    "therapist": N_("Choose active therapists or owners of this organization."),
}


def price_to_minor(text: str, currency: str, language: str) -> tuple[int | None, str | None]:
    """``text`` (a decimal amount of ``currency``) in minor units, exactly; or None and a sentence.

    ``"60.00"`` EUR is 6000, ``"60"`` is 6000, ``"60,5"`` is 6050; ``"12.345"`` EUR is refused
    (EUR has 2 decimals), as is anything that is not a plain amount (signs, letters, grouping).
    """
    digits = get_currency_precision(currency) if re.fullmatch(r"[A-Z]{3}", currency or "") else 2
    match = _AMOUNT.fullmatch(text.strip())
    if match is None:
        example = "60" if digits == 0 else "60" + get_decimal_symbol(language) + "0" * digits
        return None, gettext(language, "Enter an amount such as %(example)s, without the currency sign.", example=example)
    whole, fraction = match.group(1), (match.group(2) or "")
    if len(fraction.rstrip("0")) > digits:
        if digits == 0:
            return None, gettext(language, "%(currency)s has no cents: enter a whole amount.", currency=currency)
        return None, gettext(language, "%(currency)s has %(digits)s decimals: enter at most %(digits)s digits after the decimal sign.",
                             currency=currency, digits=digits)
    minor = int(Decimal(f"{whole}.{fraction or '0'}").scaleb(digits))
    if minor > MAX_PRICE_MINOR:
        largest = Decimal(MAX_PRICE_MINOR).scaleb(-digits)
        return None, gettext(language, "Enter at most %(amount)s.", amount=f"{largest:f}")
    return minor, None


def percent_to_bp(text: str) -> int | None:
    """A typed percentage (``"30"``, ``"12.5"``, ``"12,5"``) as basis points, or None when it is
    not a number with at most two decimals from 0.01 to 100."""
    import re

    match = re.fullmatch(r"(\d{1,3})(?:[.,](\d{1,2}))?", text)
    if match is None:
        return None
    bp = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    return bp if 1 <= bp <= 10_000 else None


def minor_to_price(amount: int, currency: str) -> str:
    """``amount`` minor units as the form shows it (``6000`` EUR -> ``"60.00"``)."""
    digits = get_currency_precision(currency)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f}"


def _show(form: FormState, problem: Problem, language: str) -> FormState:
    form.show(problem, language)
    for error in problem.errors:
        sentence = _RULES.get(error.get("rule", ""))
        if sentence and error.get("field") and language != "en":
            form.errors[error["field"]] = gettext(language, sentence)
    if "price_minor" in form.errors:
        form.errors.setdefault("price", form.errors.pop("price_minor"))
    for api, shown in (("deposit_minor", "deposit"), ("deposit_share_bp", "deposit_percent")):
        if api in form.errors:
            form.errors.setdefault(shown, form.errors.pop(api))
    return form


def _read(values: dict[str, Any], language: str, *, update: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's values as the schema's fields (the price in minor units) and the price's own error."""
    data = {k: v for k, v in values.items() if k not in ("price", "therapist_ids", "deposit", "deposit_percent")}
    errors: dict[str, str] = {}
    deposit = str(values.get("deposit", "") or "").strip()
    percent = str(values.get("deposit_percent", "") or "").strip()
    data["deposit_minor"] = data["deposit_share_bp"] = None
    if deposit:
        minor, error = price_to_minor(deposit, str(values.get("currency", "")).strip(), language)
        if error:
            errors["deposit"] = error
        else:
            data["deposit_minor"] = minor
    if percent:
        bp = percent_to_bp(percent)
        if bp is None:
            errors["deposit_percent"] = gettext(language, "Enter a percentage from 0.01 to 100, such as 30.")
        else:
            data["deposit_share_bp"] = bp
    price = str(values.get("price", "")).strip()
    if price:
        minor, error = price_to_minor(price, str(values.get("currency", "")).strip(), language)
        if error:
            errors["price"] = error
        else:
            data["price_minor"] = minor
    elif not update:
        errors["price"] = gettext(language, "Enter a price (0 for a free service).")
    if update and not str(values.get("capacity", "")).strip():
        data["capacity"] = None  # cleared: a one-to-one service has none
    return data, errors


async def _therapists(tenant: TenantContext) -> list[Any]:
    """Who may deliver a service: active therapists and owners (the service's rule)."""
    rows = await tenant.session.execute(
        sa.select(StaffMember.id, StaffMember.display_name, StaffMember.role)
        .where(StaffMember.active.is_(True), StaffMember.role.in_(service_rules.DELIVERING_ROLES))
        .order_by(StaffMember.display_name)
    )
    return list(rows.all())


def _currencies(language: str) -> list[tuple[str, str]]:
    return [(code, f"{code} — {get_currency_name(code, locale=language)}") for code in sorted(service_rules.iso_currencies())]


async def _form_page(
    tenant: TenantContext, ws: Workspace, *, form: FormState, service: Any = None, status: int = 200,
    limit: dict[str, Any] | None = None, selected: list[str] | None = None,
) -> Template:
    ws.active = "services"
    if selected is None:
        selected = [str(t.id) for t in service.therapists] if service is not None else []
    return render(
        "catalog/service_form.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=status, form=form,
        service=service, therapists=await _therapists(tenant), selected=selected, currencies=_currencies(ws.language),
        limit=limit,
    )


def _plan_limit(problem: Problem) -> dict[str, Any] | None:
    if problem.kind != "plan-limit-reached":
        return None
    return {key: problem.extra.get(key) for key in ("limit", "used", "allowed", "tier", "upgrade_to")}


@get("/o/{org_slug:str}/services", opt=EVERY_MEMBER, name="catalog:services")
async def services_page(tenant: TenantContext, ws: Workspace) -> Template:
    """The services (therapists: those assigned to them, as the API shows them)."""
    rows, total = await service_rules.list_services(
        tenant.session, limit=LIST_SIZE, offset=0, visible_to=service_visible_to(tenant.role.value, tenant.user_id), active=None, kind=None, search=None
    )
    ws.active = "services"
    return render(
        "catalog/services.html", language=ws.language, time_zone=ws.time_zone, ws=ws, services=rows, total=total,
        therapist_view=service_visible_to(tenant.role.value, tenant.user_id) is not None,
    )


@get("/o/{org_slug:str}/services/new", opt=OWNERS, name="catalog:new-service")
async def new_service_page(tenant: TenantContext, ws: Workspace) -> Template:
    """The form of a new service (owners)."""
    form = FormState(values={"kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "location": "ONLINE", "currency": "EUR",
                             "duration_minutes": "50", "active": "on", "public_booking": "on"})
    return await _form_page(tenant, ws, form=form)


@post("/o/{org_slug:str}/services/new", opt=OWNERS, name="catalog:create-service")
async def create_service_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace) -> Response[Any]:
    """Create the service with its therapists (the API's service; the plan's limit applies)."""
    try:
        values = await read_form(request, lists=("therapist_ids",))
    except InvalidInput as problem:
        return await _form_page(tenant, ws, form=_show(FormState(), problem, ws.language), status=problem.status, selected=[])
    data, price_errors = _read(values, ws.language, update=False)
    data["therapist_ids"] = values["therapist_ids"]
    body, form = parse(ServiceCreate, data, integers=_INTEGERS, booleans=("active", "public_booking"), language=ws.language)
    form.values = dict(values)
    form.errors.pop("price_minor", None)
    form.errors.update(price_errors)
    if body is None or price_errors:
        form.message = form.message or _show(FormState(), InvalidInput.fields([]), ws.language).message
        return await _form_page(tenant, ws, form=form, status=422, selected=values["therapist_ids"])
    try:
        await service_rules.create_service(tenant.session, body, tenant_id=tenant.tenant.id, tier=tenant.tenant.tier)
    except Problem as problem:
        await _fresh(tenant)
        return await _form_page(tenant, ws, form=_show(form, problem, ws.language), status=problem.status,
                                limit=_plan_limit(problem), selected=values["therapist_ids"])
    return see_other(request, f"{ws.base}/services")


def _values_of(service: Any) -> dict[str, Any]:
    return {
        "name": service.name, "description": service.description, "kind": service.kind, "scheduling": service.scheduling,
        "duration_minutes": str(service.duration_minutes), "price": minor_to_price(service.price_minor, service.currency),
        "currency": service.currency, "capacity": "" if service.capacity is None else str(service.capacity),
        "location": service.location, "location_detail": service.location_detail, "active": "on" if service.active else "",
        "public_booking": "on" if service.public_booking else "",
        "pay_online": service.pay_online,
        "deposit": "" if service.deposit_minor is None else minor_to_price(service.deposit_minor, service.currency),
        "deposit_percent": "" if service.deposit_share_bp is None else f"{service.deposit_share_bp / 100:g}",
    }


@get("/o/{org_slug:str}/services/{service_id:uuid}/edit", opt=OWNERS, name="catalog:edit-service")
async def edit_service_page(tenant: TenantContext, ws: Workspace, service_id: uuid.UUID) -> Template:
    """The form of an existing service (owners)."""
    service = await service_rules.get_service(tenant.session, service_id)
    return await _form_page(tenant, ws, form=FormState(values=_values_of(service)), service=service)


@post("/o/{org_slug:str}/services/{service_id:uuid}/edit", opt=OWNERS, name="catalog:update-service")
async def update_service_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, service_id: uuid.UUID) -> Response[Any]:
    """Change the service and set its therapists, in one transaction (the API's two services)."""
    service = await service_rules.get_service(tenant.session, service_id)  # 404 before reading the form
    try:
        values = await read_form(request, lists=("therapist_ids",))
    except InvalidInput as problem:
        form = _show(FormState(values=_values_of(service)), problem, ws.language)
        return await _reshow(tenant, ws, service_id, form, problem.status, None, [str(t.id) for t in service.therapists])
    values.setdefault("active", "")
    values.setdefault("public_booking", "")
    data, price_errors = _read(values, ws.language, update=True)
    body, form = parse(ServiceUpdate, data, integers=_INTEGERS, booleans=("active", "public_booking"), keep_empty=("description", "location_detail"),
                       language=ws.language)
    assignment, assignment_form = parse(TherapistAssignment, {"therapist_ids": values["therapist_ids"]}, language=ws.language)
    form.values = dict(values)
    form.errors.update(assignment_form.errors)
    form.errors.update(price_errors)
    if body is None or assignment is None or price_errors:
        form.message = form.message or assignment_form.message or _show(FormState(), InvalidInput.fields([]), ws.language).message
        return await _reshow(tenant, ws, service_id, form, 422, None, values["therapist_ids"])
    try:
        await service_rules.update_service(tenant.session, service_id, body, tenant_id=tenant.tenant.id, tier=tenant.tenant.tier)
        await service_rules.assign_therapists(tenant.session, service_id, assignment.therapist_ids)
    except Problem as problem:
        return await _reshow(tenant, ws, service_id, _show(form, problem, ws.language), problem.status, _plan_limit(problem),
                             values["therapist_ids"])
    return see_other(request, f"{ws.base}/services")


async def _fresh(tenant: TenantContext) -> None:
    """Roll back a refused change (nothing half-written) and enter the tenant again for the page's reads."""
    await tenant.session.rollback()
    await enter_tenant(tenant.session, tenant.tenant.id)


async def _reshow(tenant: TenantContext, ws: Workspace, service_id: uuid.UUID, form: FormState, status: int,
                  limit: dict[str, Any] | None, selected: list[str]) -> Template:
    """The edit form again after a refusal: the transaction rolled back, the service read afresh."""
    await _fresh(tenant)
    service = await service_rules.get_service(tenant.session, service_id)
    return await _form_page(tenant, ws, form=form, service=service, status=status, limit=limit, selected=selected)


@post("/o/{org_slug:str}/services/{service_id:uuid}/delete", opt=OWNERS, name="catalog:delete-service")
async def delete_service_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, service_id: uuid.UUID) -> Response[Any]:
    """Delete a service nothing refers to; otherwise say why and offer to deactivate it."""
    try:
        await service_rules.delete_service(tenant.session, service_id)
    except Problem as problem:
        if problem.status == 404:
            raise
        await _fresh(tenant)
        service = await service_rules.get_service(tenant.session, service_id)
        form = FormState(values=_values_of(service))
        form.message = _delete_refusal(problem, ws.language)
        return await _form_page(tenant, ws, form=form, service=service, status=problem.status)
    return see_other(request, f"{ws.base}/services")


def _delete_refusal(problem: Problem, language: str) -> str:
    if problem.kind == "conflict":
        return gettext(language, "Bookings refer to this service, so it cannot be deleted. Clear “Active” and save to stop offering it.")
    return FormState().show(problem, language).message or ""


PAGE_HANDLERS: list[Any] = [
    services_page, new_service_page, create_service_submit, edit_service_page, update_service_submit, delete_service_submit,
]
