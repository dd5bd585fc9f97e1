"""HTTP routes of a member's own notification preferences (every role; only their own)."""

from __future__ import annotations

from litestar import Controller, get, put

from anima.domains.audit.services import Actor
from anima.domains.preferences import services
from anima.domains.preferences.schemas import PreferencesIn, PreferencesOut
from anima.http.access import EVERY_MEMBER, TenantContext


class NotificationPreferencesController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/notification-preferences"
    tags = ["notification preferences"]

    @get("/me", opt=EVERY_MEMBER, summary="Read my notification emails (my role's defaults until I change them)")
    async def read_mine(self, tenant: TenantContext) -> PreferencesOut:
        return await services.preferences_of(tenant.session, tenant.user_id, tenant.role.value)

    @put("/me", opt=EVERY_MEMBER, summary="Set which notification emails I get (all four switches)")
    async def set_mine(self, tenant: TenantContext, actor: Actor, data: PreferencesIn) -> PreferencesOut:
        return await services.set_preferences(tenant.session, actor, tenant.user_id, data)


ROUTE_HANDLERS = [NotificationPreferencesController]
