"""Pages of playbooks (owners) and alerts (every member's own).

``/o/{slug}/playbooks``: the marketplace of system playbooks (a locked one names the tier that
unlocks it), install, switch on and off, and the runs with their outcomes, by pages — the same
service functions as ``/api/v1/orgs/{slug}/playbooks``. ``/o/{slug}/alerts``: the viewer's own
alerts, unread first; marking one read answers HTMX with the updated row and a plain form post
with the page again. A HIGH risk alert carries an icon, the words and its source; only clinicians
get the link to the patient's page (an assistant never meets a clinical link).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.plans import CATALOG
from anima.domains.automations import services as rules
from anima.domains.automations.alerts import RISK_ALERT_KIND
from anima.domains.automations.schemas import AlertOut, RuleToggle
from anima.http.access import EVERY_MEMBER, OWNERS, TenantContext
from anima.problems import Problem
from anima.web.forms import FormState, parse, read_form
from anima.web.i18n import gettext
from anima.web.problem_text import N_
from anima.web.render import is_htmx, render, see_other
from anima.web.workspace import Workspace

#: rows per page of runs and of read alerts
PAGE_SIZE = 25
#: unread alerts shown at once (they come first; marking them read makes room)
UNREAD_SHOWN = 100
Offset = Annotated[int, Parameter(query="offset", ge=0, le=1_000_000)]
TemplateKey = Annotated[str, Parameter(pattern=r"^[a-z0-9-]{1,60}$")]

#: the marketplace's descriptions in the page's language (the stored one is shown for unknown keys)
DESCRIPTIONS: dict[str, str] = {
    "escudo-de-seguridad": N_(
        "When the risk detector finds HIGH risk in a journal note, the patient's therapists are alerted; "
        "on plans with automatic risk blocking (CENTER) the patient is also blocked from new bookings."
    ),
    "cobrador-automatico": N_("A payment request still pending 48 hours after it was made sends the patient a reminder."),
    "fidelizacion-post-retiro": N_(
        "Seven days after a retreat booking is completed, the patient gets a satisfaction survey."
    ),
}


def unlocking_tiers(feature: str) -> list[str]:
    """The tiers whose plan has ``feature``, cheapest first (what a locked playbook names)."""
    return [p.tier for p in sorted(CATALOG.values(), key=lambda p: p.rank) if p.has(feature)]


def is_high_risk(alert: AlertOut) -> bool:
    """A HIGH risk alert: the core risk alert, or any critical alert about a journal entry."""
    return alert.kind == RISK_ALERT_KIND or (alert.severity == "critical" and alert.source_kind is not None)


async def _playbooks(
    ws: Workspace, tenant: TenantContext, db_session: AsyncSession, offset: int, *,
    status: int = 200, problem: str | None = None, notice: str | None = None,
) -> Template:
    installed = await rules.installed(tenant.session)
    market = [rules.template_out(t, tenant.tenant.tier, installed) for t in await rules.templates(db_session)]
    installed_rules = await rules.list_rules(tenant.session)
    runs, total = await rules.list_runs(tenant.session, limit=PAGE_SIZE, offset=offset)
    descriptions = {t.key: gettext(ws.language, DESCRIPTIONS[t.key]) if t.key in DESCRIPTIONS else t.description for t in market}
    ws.active = "playbooks"
    return render(
        "automations/playbooks.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=status,
        market=market, descriptions=descriptions, unlocks={t.key: unlocking_tiers(t.required_feature) for t in market},
        rules=installed_rules, runs=runs, total=total, offset=offset, limit=PAGE_SIZE, problem=problem, notice=notice,
    )


@get("/o/{org_slug:str}/playbooks", opt=OWNERS, name="automations:playbooks")
async def playbooks_page(
    tenant: TenantContext, ws: Workspace, db_session: AsyncSession, offset: Offset = 0,
    done: Annotated[Literal["installed", "on", "off"] | None, Parameter(query="done")] = None,
) -> Template:
    """The marketplace, the organization's playbooks and their runs."""
    return await _playbooks(ws, tenant, db_session, offset, notice=done)


@post("/o/{org_slug:str}/playbooks/{key:str}/install", opt=OWNERS, name="automations:install")
async def install_submit(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, db_session: AsyncSession, key: TemplateKey
) -> Response[Any]:
    """Install a system playbook as the organization's own rule (switched on)."""
    await read_form(request)  # the CSRF token only; NUL and broken text refused like every form
    try:
        await rules.install(db_session, tenant.session, key=key, tier=tenant.tenant.tier, user_id=tenant.user_id)
    except Problem as problem:
        return await _playbooks(ws, tenant, db_session, 0, status=problem.status, problem=FormState().show(problem, ws.language).message)
    return see_other(request, f"{ws.base}/playbooks?done=installed")


@post("/o/{org_slug:str}/playbooks/rules/{rule_id:uuid}", opt=OWNERS, name="automations:toggle")
async def toggle_submit(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, db_session: AsyncSession, rule_id: uuid.UUID
) -> Response[Any]:
    """Switch one of the organization's playbooks on or off (``enabled``: ``on`` or ``off``)."""
    values = await read_form(request)
    if values.get("enabled") not in ("on", "off"):
        problem = gettext(ws.language, "Choose whether the playbook is on or off.")
        return await _playbooks(ws, tenant, db_session, 0, status=422, problem=problem)
    body, form = parse(RuleToggle, values, booleans=("enabled",), language=ws.language)
    if body is None:
        return await _playbooks(ws, tenant, db_session, 0, status=422, problem=form.message)
    try:
        await rules.toggle(tenant.session, rule_id, body.enabled)
    except Problem as problem:
        return await _playbooks(ws, tenant, db_session, 0, status=problem.status, problem=FormState().show(problem, ws.language).message)
    return see_other(request, f"{ws.base}/playbooks?done={'on' if body.enabled else 'off'}")


def _alert_context(ws: Workspace) -> dict[str, Any]:
    return {"is_high_risk": is_high_risk}


@get("/o/{org_slug:str}/alerts", opt=EVERY_MEMBER, name="automations:alerts")
async def alerts_page(tenant: TenantContext, ws: Workspace, offset: Offset = 0) -> Template:
    """The viewer's own alerts: unread first, then the read ones by pages."""
    unread, unread_total = await rules.list_alerts(tenant.session, ws.user_id, limit=UNREAD_SHOWN, offset=0, unread=True)
    read, read_total = await rules.list_alerts(tenant.session, ws.user_id, limit=PAGE_SIZE, offset=offset, unread=False)
    ws.active = "alerts"
    return render(
        "automations/alerts.html", language=ws.language, time_zone=ws.time_zone, ws=ws,
        unread=unread, unread_total=unread_total, read=read, read_total=read_total, offset=offset, limit=PAGE_SIZE,
        **_alert_context(ws),
    )


@post("/o/{org_slug:str}/alerts/{alert_id:uuid}/read", opt=EVERY_MEMBER, name="automations:alert-read")
async def alert_read_submit(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, alert_id: uuid.UUID
) -> Response[Any]:
    """Mark one of the viewer's alerts read: HTMX gets the updated row, a plain post the page again."""
    await read_form(request)
    alert = await rules.mark_read(tenant.session, ws.user_id, alert_id)
    if is_htmx(request):
        return render(
            "automations/alert_row.html", language=ws.language, time_zone=ws.time_zone, ws=ws, alert=alert,
            **_alert_context(ws),
        )
    return see_other(request, f"{ws.base}/alerts")


PAGE_HANDLERS = [playbooks_page, install_submit, toggle_submit, alerts_page, alert_read_submit]
