"""Pages of the notification preferences: the card on the member's own profile page (``GET
…/notification-preferences/card``, an HTML fragment the profile page loads) and its form's submit
(``POST …/notification-preferences``: a checked box is on, an absent one off; back to the profile)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Response, Template

from anima.domains.audit.services import Actor
from anima.domains.preferences import services
from anima.domains.preferences.schemas import PreferencesIn
from anima.http.access import EVERY_MEMBER, TenantContext
from anima.web.forms import read_form
from anima.web.render import render, see_other
from anima.web.workspace import Workspace


@get("/o/{org_slug:str}/notification-preferences/card", opt=EVERY_MEMBER, name="preferences:card")
async def preferences_card(tenant: TenantContext, ws: Workspace) -> Template:
    """The member's four switches as a form card (an HTML fragment)."""
    current = await services.preferences_of(tenant.session, tenant.user_id, tenant.role.value)
    return render("preferences/card.html", language=ws.language, time_zone=ws.time_zone, ws=ws, prefs=current,
                  role=tenant.role.value)


@post("/o/{org_slug:str}/notification-preferences", opt=EVERY_MEMBER, name="preferences:submit")
async def preferences_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, actor: Actor) -> Response[Any]:
    """Save the switches (each box checked with the value ``on`` is on) and go back to the profile."""
    values = await read_form(request)
    data = PreferencesIn(**{kind: values.get(kind) == "on" for kind in services.KINDS})
    await services.set_preferences(tenant.session, actor, tenant.user_id, data)
    return see_other(request, f"{ws.base}/profile?saved=true#notifications")


PAGE_HANDLERS = [preferences_card, preferences_submit]
