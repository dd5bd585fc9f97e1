"""Pages of identity: the team (members, roles, invitations), the person's own profile, and the
public page an emailed invitation link opens (:mod:`anima.identity.invitation_page`).

The team page lists every member to every member; owners change roles, remove members, invite by
email with a role and revoke pending invitations — through the same service functions and rate
limits as the JSON API (:mod:`anima.identity.members`). What a service refuses is shown in place:
the last owner's row says why it can be neither removed nor demoted, a refused attempt shows the
reason beside the row, and a staff-seat limit names the plan's allowance and the tier that lifts it.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.response import Response, Template

from anima.db.base import utcnow
from anima.domains.settings.services import get_settings
from sqlalchemy.ext.asyncio import AsyncSession

from anima.http.access import EVERY_MEMBER, OWNERS, MemberContext, TenantContext
from anima.identity import invitation_page
from anima.identity import members as members_service
from anima.identity import profile as profile_service
from anima.identity.models import Role
from anima.identity.schemas import InvitationRequest, ProfileUpdate, RoleChange
from anima.problems import InvalidInput, Problem
from anima.runtime import Runtime
from anima.web.forms import FormState, parse, read_form
from anima.web import i18n
from anima.web.i18n import gettext
from anima.web.problem_text import N_
from anima.web.render import render, see_other
from anima.web.workspace import Workspace, forget_person

#: how many members and invitations the team page lists (the plans' largest staff allowance is 50)
TEAM_PAGE_SIZE = 200

#: sentences for the rules of the members service, by rule (the service speaks English)
_RULES = {
    "last-owner": N_("The organization must keep at least one owner. Make another member an owner first."),
    "already a member": N_("This person is already a member of the organization."),
    "already invited": N_("An invitation to this email is already pending. Revoke it to send a new one."),
}


def on_platform(tenant: TenantContext, db_session: AsyncSession) -> MemberContext:
    """The member ``tenant`` authorized (the page's declared roles, like the API), with the request's
    platform session: the members and profile services work in ``platform``.

    A page asks for ``tenant`` (which ``ws`` needs anyway) rather than also for ``member``: two
    authorizing dependencies are resolved concurrently, and one refusing while the other is
    starting its transaction could leave that pooled connection inside a transaction.
    """
    return MemberContext(db_session, tenant.tenant, tenant.user_id, tenant.role)


def plan_limit(problem: Problem) -> dict[str, Any] | None:
    """What a page shows of a plan-limit refusal: the limit, its usage, the tier and the lifting tier."""
    if problem.kind != "plan-limit-reached":
        return None
    return {key: problem.extra.get(key) for key in ("limit", "used", "allowed", "tier", "upgrade_to")}


def reason(problem: Problem, language: str) -> str:
    """One sentence for a refusal of the members service, in ``language``."""
    for error in problem.errors:
        for key in (error.get("rule"), error.get("message")):
            sentence = _RULES.get(key or "")
            if sentence:
                return gettext(language, sentence)
    form = FormState().show(problem, language)
    return form.message or ""


async def _team(
    member: MemberContext,
    ws: Workspace,
    *,
    invite_form: FormState | None = None,
    row_errors: dict[str, str] | None = None,
    limit: dict[str, Any] | None = None,
    status: int = 200,
) -> Template:
    """The team page; on a refusal, the failed transaction is rolled back first (nothing half-written)."""
    if status >= 400:
        await member.session.rollback()
    invitations: list[Any] = []
    if member.is_owner:  # the API lists invitations to owners only
        rows, _ = await members_service.list_invitations(member.session, member.tenant, limit=TEAM_PAGE_SIZE, offset=0)
        now = utcnow()
        invitations = [i for i in rows if i.accepted_at is None and i.revoked_at is None and i.expires_at > now]
    rows, _ = await members_service.list_members(member.session, member.tenant, limit=TEAM_PAGE_SIZE, offset=0)
    members = [m for m in rows if m.active]
    owners = sum(1 for m in members if m.role == Role.OWNER.value)
    ws.active = "team"
    return render(
        "identity/team.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=status,
        members=members, owners=owners, invitations=invitations, invite_form=invite_form or FormState(values={"role": "THERAPIST"}),
        row_errors=row_errors or {}, limit=limit, roles=[r.value for r in Role], me=str(member.user_id),
    )


@get("/o/{org_slug:str}/team", opt=EVERY_MEMBER, name="identity:team")
async def team_page(tenant: TenantContext, ws: Workspace, db_session: AsyncSession) -> Template:
    """Members and their roles (every member); invitations and changes (owners)."""
    member = on_platform(tenant, db_session)
    return await _team(member, ws)


@post("/o/{org_slug:str}/team/invitations", opt=OWNERS, name="identity:invite")
async def invite_submit(request: Request[Any, Any, Any], runtime: Runtime, tenant: TenantContext, ws: Workspace, db_session: AsyncSession) -> Response[Any]:
    """Invite someone by email with a role (the API's service and rate limits)."""
    member = on_platform(tenant, db_session)
    try:
        values = await read_form(request)
    except InvalidInput as problem:
        return await _team(member, ws, invite_form=FormState().show(problem, ws.language), status=problem.status)
    body, form = parse(InvitationRequest, values, language=ws.language)
    if body is None:
        return await _team(member, ws, invite_form=form, status=422)
    try:
        await runtime.rate_limiter.hit("invite", "tenant", str(member.tenant.id))
        await runtime.rate_limiter.hit("invite", "user", str(member.user_id))
        await members_service.invite(
            member.session, member.tenant, email=body.email, role=body.role, invited_by=member.user_id,
            public_url=runtime.settings.public_url, log_link=not runtime.settings.is_production,
        )
    except Problem as problem:
        form.show(problem, ws.language)
        if problem.errors:
            form.errors["email"] = reason(problem, ws.language)
        return await _team(member, ws, invite_form=form, limit=plan_limit(problem), status=problem.status)
    return see_other(request, f"{ws.base}/team#invitations")


@post("/o/{org_slug:str}/team/invitations/{invitation_id:uuid}/revoke", opt=OWNERS, name="identity:revoke")
async def revoke_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, db_session: AsyncSession, invitation_id: uuid.UUID) -> Response[Any]:
    """Revoke a pending invitation; its link stops working at once."""
    member = on_platform(tenant, db_session)
    await members_service.revoke_invitation(member.session, member.tenant, invitation_id)
    return see_other(request, f"{ws.base}/team#invitations")


@post("/o/{org_slug:str}/team/members/{user_id:uuid}/role", opt=OWNERS, name="identity:change-role")
async def role_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, db_session: AsyncSession, user_id: uuid.UUID) -> Response[Any]:
    """Give a member another role; the last owner's refusal is shown beside the row."""
    member = on_platform(tenant, db_session)
    try:
        values = await read_form(request)
    except InvalidInput as problem:
        return await _team(member, ws, row_errors={str(user_id): reason(problem, ws.language)}, status=problem.status)
    body, form = parse(RoleChange, values, language=ws.language)
    if body is None:
        return await _team(member, ws, row_errors={str(user_id): form.error("role") or form.message or ""}, status=422)
    try:
        await members_service.change_role(member.session, member.tenant, user_id, body.role)
    except Problem as problem:
        return await _team(member, ws, row_errors={str(user_id): reason(problem, ws.language)}, status=problem.status)
    forget_person(user_id)  # the organization switcher shows the role
    return see_other(request, f"{ws.base}/team")


@post("/o/{org_slug:str}/team/members/{user_id:uuid}/remove", opt=OWNERS, name="identity:remove-member")
async def remove_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, db_session: AsyncSession, user_id: uuid.UUID) -> Response[Any]:
    """Remove a member (never the last owner: the refusal is shown beside the row)."""
    member = on_platform(tenant, db_session)
    try:
        await members_service.remove_member(member.session, member.tenant, user_id)
    except Problem as problem:
        return await _team(member, ws, row_errors={str(user_id): reason(problem, ws.language)}, status=problem.status)
    forget_person(user_id)
    return see_other(request, "/workspaces" if user_id == member.user_id else f"{ws.base}/team")


# -- the person's own profile -----------------------------------------------------------------------


async def _profile(member: MemberContext, tenant: TenantContext, ws: Workspace, *, form: FormState | None = None, saved: bool = False, status: int = 200) -> Template:
    if status >= 400:
        await member.session.rollback()
    current = await profile_service.get_profile(member.session, member.user_id)
    if form is None:
        form = FormState(values={"display_name": current.display_name, "language": current.language or "",
                                 "time_zone": current.time_zone or ""})
    settings = await get_settings(tenant.session)  # what "the organization's default" means
    settings_zone, settings_language = settings.timezone, settings.locale
    ws.active = "profile"
    return render(
        "identity/profile.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=status, form=form,
        profile=current, zones=profile_service.zone_groups(form.value("time_zone") or None), saved=saved,
        organization_zone=settings_zone, organization_language=settings_language,
        languages=[(code, i18n.language_name(code)) for code in i18n.LANGUAGES],
    )


@get("/o/{org_slug:str}/profile", opt=EVERY_MEMBER, name="identity:profile")
async def profile_page(tenant: TenantContext, ws: Workspace, db_session: AsyncSession, saved: bool = False) -> Template:
    """The signed-in person's own name, language and time zone."""
    member = on_platform(tenant, db_session)
    return await _profile(member, tenant, ws, saved=saved)


@post("/o/{org_slug:str}/profile", opt=EVERY_MEMBER, name="identity:profile-submit")
async def profile_submit(request: Request[Any, Any, Any], runtime: Runtime, tenant: TenantContext, ws: Workspace, db_session: AsyncSession) -> Response[Any]:
    """Save the person's preferences; an empty language or zone means the organization's."""
    member = on_platform(tenant, db_session)
    try:
        values = await read_form(request)
    except InvalidInput as problem:
        return await _profile(member, tenant, ws, form=FormState().show(problem, ws.language), status=problem.status)
    data: dict[str, Any] = dict(values)
    for key in ("language", "time_zone"):
        if isinstance(data.get(key), str) and not data[key].strip():
            data[key] = None  # "the organization's default"
    body, form = parse(ProfileUpdate, data, language=ws.language)
    form.values = dict(values)
    if body is None:
        return await _profile(member, tenant, ws, form=form, status=422)
    try:
        saved = await profile_service.update_profile(member.session, member.user_id, body)
        organizations = await profile_service.organizations_of(member.session, member.user_id)
    except Problem as problem:
        return await _profile(member, tenant, ws, form=form.show(problem, ws.language), status=problem.status)
    await member.session.commit()
    forget_person(member.user_id)  # the frame shows the new name, language and zone at once
    for tenant_id in organizations:  # each organization's staff mirror, in a transaction of its own
        async with runtime.sessionmaker() as session:
            await profile_service.mirror_display_name(session, tenant_id, member.user_id, saved.display_name, saved.time_zone)
            await session.commit()
    return see_other(request, f"{ws.base}/profile?saved=true")


PAGE_HANDLERS: list[Any] = [
    team_page, invite_submit, revoke_submit, role_submit, remove_submit, profile_page, profile_submit,
    *invitation_page.PAGE_HANDLERS,
]
