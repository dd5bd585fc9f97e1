"""HTTP routes of the practice settings: every member reads, owners change."""

from __future__ import annotations

from litestar import Controller, get, patch

from anima.domains.settings import services as settings_rules
from anima.domains.settings.schemas import SettingsOut, SettingsUpdate
from anima.http.access import EVERY_MEMBER, OWNERS, TenantContext


class SettingsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/settings"
    tags = ["settings"]

    @get("/", opt=EVERY_MEMBER, summary="Practice settings")
    async def read(self, tenant: TenantContext) -> SettingsOut:
        return settings_rules.to_out(await settings_rules.get_settings(tenant.session))

    @patch("/", opt=OWNERS, summary="Change terminology, locale or time zone (owners)")
    async def update(self, tenant: TenantContext, data: SettingsUpdate) -> SettingsOut:
        return settings_rules.to_out(await settings_rules.update_settings(tenant.session, data))


ROUTE_HANDLERS = [SettingsController]
