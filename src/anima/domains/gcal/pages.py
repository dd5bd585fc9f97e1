"""Pages of Google Calendar: the member's connection page, the card on the profile page, the
connect / disconnect buttons and the OAuth callback.

* ``GET /google-calendar/callback`` — the one redirect URI registered at Google (public): the
  state names the organization (``<slug>.<token>``), so it forwards to that organization's
  callback, where the signed-in member's session is checked.
* ``GET /o/{slug}/google-calendar/callback`` — consumes the state (bound to this member, once) and
  stores the tokens; a bad, replayed or foreign state or a missing code is an error page (4xx)
  and nothing is stored.
* ``GET /o/{slug}/google-calendar`` — state, calendar, last sync and error, connect/disconnect;
  owners also see who is connected. ``GET …/card`` is the same state as a card the profile page
  loads.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.response import Redirect, Response, Template

from anima.crypto.cipher import FieldCipher
from anima.domains.gcal import services
from anima.http.access import CLINICIANS, EVERY_MEMBER, TenantContext
from anima.identity.models import Role
from anima.problems import InvalidInput
from anima.runtime import Runtime
from anima.web.i18n import gettext
from anima.web.problem_text import N_
from anima.web.render import render, see_other
from anima.web.workspace import Workspace

_STATE = re.compile(r"([a-z0-9][a-z0-9-]{0,62})\.[A-Za-z0-9_-]{20,100}")


async def _context(tenant: TenantContext, runtime: Runtime) -> dict[str, Any]:
    status = await services.status(tenant.session, runtime.settings, tenant.user_id)
    clinician = tenant.role in (Role.OWNER, Role.THERAPIST)
    others = await services.connections(tenant.session) if tenant.role == Role.OWNER else []
    return {"google": status, "connection": status.connection, "clinician": clinician, "others": others,
            "connected": False, "disconnected": False, "refused": None, "refused_field": None}


@get("/o/{org_slug:str}/google-calendar", opt=EVERY_MEMBER, name="gcal:page")
async def gcal_page(tenant: TenantContext, ws: Workspace, runtime: Runtime, connected: bool = False, disconnected: bool = False) -> Template:
    """The member's Google Calendar connection (and, for owners, everyone's)."""
    ws.active = "profile"
    context = {**await _context(tenant, runtime), "connected": connected, "disconnected": disconnected}
    return render("gcal/page.html", language=ws.language, time_zone=ws.time_zone, ws=ws, **context)


@get("/o/{org_slug:str}/google-calendar/card", opt=EVERY_MEMBER, name="gcal:card")
async def gcal_card(tenant: TenantContext, ws: Workspace, runtime: Runtime) -> Template:
    """The connection state as the profile page's card (an HTML fragment)."""
    return render("gcal/card.html", language=ws.language, time_zone=ws.time_zone, ws=ws, **await _context(tenant, runtime))


@post("/o/{org_slug:str}/google-calendar/connect", opt=CLINICIANS, name="gcal:connect")
async def gcal_connect(tenant: TenantContext, cipher: FieldCipher, runtime: Runtime) -> Redirect:
    """Start the consent: 303 to Google (409 page when Google Calendar is off)."""
    url = await services.start(tenant.session, cipher, runtime.settings, user_id=tenant.user_id, org_slug=tenant.tenant.slug,
                               public_url=runtime.settings.public_url)
    return Redirect(url, status_code=303)


@post("/o/{org_slug:str}/google-calendar/disconnect", opt=CLINICIANS, name="gcal:disconnect")
async def gcal_disconnect(request: Request[Any, Any, Any], tenant: TenantContext, cipher: FieldCipher, runtime: Runtime, ws: Workspace) -> Redirect:
    """Revoke and delete the member's tokens, then back to the page."""
    await services.disconnect(tenant.session, cipher, runtime.settings, tenant_id=tenant.tenant.id, user_id=tenant.user_id)
    return see_other(request, f"{ws.base}/google-calendar?disconnected=true")


@get("/google-calendar/callback", name="gcal:callback", include_in_schema=False)
async def gcal_callback(request: Request[Any, Any, Any]) -> Response[Any]:
    """Google's redirect: forward it to the organization the state names (400 without a valid state)."""
    state = request.query_params.get("state") or ""
    found = _STATE.fullmatch(state)
    if found is None:
        raise InvalidInput.field("state", "format", "the authorization has no valid state")
    query = {k: v for k, v in request.query_params.items() if k in ("state", "code", "error")}
    return Redirect(f"/o/{found.group(1)}/google-calendar/callback?{urlencode(query)}", status_code=303)


#: what the page says when the callback is refused, by the field the service named
_REFUSALS = {
    "state": N_("This connection attempt is unknown, already used, someone else's or expired. Start again."),
    "code": N_("Google sent no authorization (was the consent refused?). Start again."),
}


@get("/o/{org_slug:str}/google-calendar/callback", opt=CLINICIANS, name="gcal:org-callback")
async def gcal_org_callback(request: Request[Any, Any, Any], tenant: TenantContext, cipher: FieldCipher, runtime: Runtime,
                            ws: Workspace) -> Response[Any]:
    """Finish the consent for the signed-in member, then back to the page; a bad state or code is
    the page again with the reason (422) and nothing stored."""
    params = request.query_params
    try:
        async with tenant.session.begin_nested():  # a refusal undoes everything the attempt wrote (the tenant scope stays)
            await services.finish(tenant.session, cipher, runtime.settings, tenant_id=tenant.tenant.id, user_id=tenant.user_id,
                                  state=params.get("state"), code=params.get("code"), public_url=runtime.settings.public_url)
    except InvalidInput as problem:
        field = problem.errors[0].get("field", "state") if problem.errors else "state"
        ws.active = "profile"
        context = {**await _context(tenant, runtime), "refused": gettext(ws.language, _REFUSALS.get(field, _REFUSALS["state"])),
                   "refused_field": field}
        return render("gcal/page.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=problem.status, **context)
    return Redirect(f"{ws.base}/google-calendar?connected=true", status_code=303)


PAGE_HANDLERS = [gcal_page, gcal_card, gcal_connect, gcal_disconnect, gcal_callback, gcal_org_callback]
