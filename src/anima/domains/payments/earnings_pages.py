"""The workspace's earnings page (owners and therapists).

``/o/{slug}/earnings``: a period (start and end dates, inclusive, read in the viewer's zone;
default this calendar month) and the rows of :func:`anima.domains.payments.earnings.earnings` per
therapist and currency — sessions, gross, fees, refunds, net, pending and paid out — with one
total per currency (never summed across currencies) and the same rows as CSV
(:func:`~anima.domains.payments.earnings.to_csv`). A therapist sees their own row only, as in the
API. Owners also see and set each clinician's payout setting
(:func:`anima.domains.payments.payouts.set_payout`): their Stripe connected account or paid
outside Anima, and their share in percent (stored in basis points).
"""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Response, Template

from anima.domains.payments import earnings as earnings_rules
from anima.domains.payments import payouts as payout_rules
from anima.domains.payments.schemas import PayoutIn
from anima.domains.staff.models import StaffMember
from anima.http.access import CLINICIANS, OWNERS, TenantContext
from anima.problems import InvalidInput, Problem
from anima.tenancy.scope import enter_tenant
from anima.web import i18n
from anima.web.forms import FormState, parse, read_form
from anima.web.render import render, see_other
from anima.web.workspace import Workspace

_SHARE = re.compile(r"([0-9]{1,3})(?:[.,]([0-9]{1,2}))?")


def this_month(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The first and last day of ``today``'s month."""
    first = today.replace(day=1)
    following = (first + datetime.timedelta(days=32)).replace(day=1)
    return first, following - datetime.timedelta(days=1)


def share_to_bps(text: str) -> int | None:
    """A typed share in percent (``"40"``, ``"12.5"``, ``"12,5"``) as basis points 0–10,000, or None."""
    match = _SHARE.fullmatch(text.strip())
    if match is None:
        return None
    bps = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    return bps if 0 <= bps <= 10_000 else None


def _date(text: str | None, name: str, language: str, errors: dict[str, str]) -> datetime.date | None:
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        errors[name] = i18n.gettext(language, "Enter a date such as 2026-03-31.")
        return None


async def _page(tenant: TenantContext, ws: Workspace, *, start_text: str | None = None, end_text: str | None = None,
                payout_forms: dict[uuid.UUID, FormState] | None = None, code: int = 200, done: str | None = None) -> Template:
    if code >= 400:
        await tenant.session.rollback()
        await enter_tenant(tenant.session, tenant.tenant.id)
    session = tenant.session
    errors: dict[str, str] = {}
    default_start, default_end = this_month(datetime.datetime.now(ZoneInfo(ws.time_zone or "UTC")).date())
    start = _date(start_text, "start", ws.language, errors) or default_start
    end = _date(end_text, "end", ws.language, errors) or default_end
    rows: list[earnings_rules.EarningsRow] = []
    try:
        lower, upper = earnings_rules.period_bounds(start, end, ws.time_zone or "UTC")
        rows = await earnings_rules.earnings(session, lower=lower, upper=upper,
                                             therapist_id=None if ws.is_owner else tenant.user_id)
    except InvalidInput as problem:
        errors.update(FormState().show(problem, ws.language).errors)
    period = FormState(values={"start": start_text or start.isoformat(), "end": end_text or end.isoformat()}, errors=errors,
                       message=next(iter(errors.values())) if errors else None)
    staff = list((await session.execute(
        sa.select(StaffMember).where(StaffMember.active.is_(True), StaffMember.role.in_(payout_rules.CLINICIAN_ROLES))
        .order_by(StaffMember.display_name, StaffMember.id))).scalars())
    names = {s.id: s.display_name for s in staff}
    for therapist_id in {r.therapist_id for r in rows} - set(names):
        if therapist_id is not None:
            member = await session.get(StaffMember, therapist_id)
            names[therapist_id] = member.display_name if member else "—"
    payouts = {p.staff_id: p for p in await payout_rules.list_payouts(session)} if ws.is_owner else {}
    ws.active = "earnings"
    query = f"start={start.isoformat()}&end={end.isoformat()}" if not errors else ""
    return render(
        "payments/earnings.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=code if code >= 400 else (422 if errors else 200),
        rows=rows, totals=earnings_rules.totals(rows), names=names, period=period, start=start, end=end,
        csv_url=f"{ws.base}/earnings/csv" + (f"?{query}" if query else ""), staff=staff if ws.is_owner else [],
        payouts=payouts, payout_forms=payout_forms or {}, done=done, query=query,
    )


@get("/o/{org_slug:str}/earnings", opt=CLINICIANS, name="payments:earnings")
async def earnings_page(
    tenant: TenantContext, ws: Workspace,
    start: Annotated[str | None, Parameter(query="start", max_length=10)] = None,
    end: Annotated[str | None, Parameter(query="end", max_length=10)] = None,
    done: Annotated[str | None, Parameter(max_length=20)] = None,
) -> Template:
    """Earnings per therapist and currency over a period (default this month); owners: payout settings."""
    return await _page(tenant, ws, start_text=start, end_text=end, done=done if done == "payout" else None)


@get("/o/{org_slug:str}/earnings/csv", opt=CLINICIANS, name="payments:earnings-csv", media_type="text/csv")
async def earnings_csv(
    tenant: TenantContext, ws: Workspace,
    start: Annotated[datetime.date | None, Parameter(query="start")] = None,
    end: Annotated[datetime.date | None, Parameter(query="end")] = None,
) -> Response[str]:
    """The page's rows as CSV (the API's export), for the viewer's own row when not an owner."""
    default_start, default_end = this_month(datetime.datetime.now(ZoneInfo(ws.time_zone or "UTC")).date())
    lower, upper = earnings_rules.period_bounds(start or default_start, end or default_end, ws.time_zone or "UTC")
    rows = await earnings_rules.earnings(tenant.session, lower=lower, upper=upper, therapist_id=None if ws.is_owner else tenant.user_id)
    return Response(earnings_rules.to_csv(rows), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="earnings.csv"'})


@post("/o/{org_slug:str}/earnings/payouts/{staff_id:uuid}", opt=OWNERS, name="payments:payout")
async def payout_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, staff_id: uuid.UUID) -> Response[Any]:
    """Set how a clinician is paid their share (owners): Stripe account or outside Anima, share in percent."""
    values = await read_form(request)
    mode = str(values.get("mode", ""))
    account = str(values.get("stripe_account_id", "")).strip()
    share_text = str(values.get("share", ""))
    bps = share_to_bps(share_text) if "\x00" not in share_text else None
    body, form = parse(PayoutIn, {"mode": mode, "share_bps": bps if bps is not None else 0,
                                  **({"stripe_account_id": account} if account and mode == "connect" else {})}, language=ws.language)
    form.values = dict(values)
    if "share_bps" in form.errors:
        form.errors["share"] = form.errors.pop("share_bps")
    if bps is None:
        form.errors["share"] = i18n.gettext(ws.language, "Enter a share from 0 to 100 percent, with at most 2 decimals.")
    if account and mode == "outside":
        form.errors["stripe_account_id"] = i18n.gettext(ws.language, "Leave the account empty when the practice pays outside Anima.")
    if form.errors:
        form.message = form.message or next(iter(form.errors.values()))
        return await _page(tenant, ws, payout_forms={staff_id: form}, code=422)
    try:
        await payout_rules.set_payout(tenant.session, staff_id, body, actor_id=tenant.user_id)
    except Problem as problem:
        return await _page(tenant, ws, payout_forms={staff_id: form.show(problem, ws.language)}, code=problem.status)
    return see_other(request, f"{ws.base}/earnings?done=payout")


PAGE_HANDLERS: list[Any] = [earnings_page, earnings_csv, payout_submit]
