"""HTTP routes of the practice settings: every member reads, owners change."""

from __future__ import annotations

from litestar import Controller, get, patch, put

from anima.domains.audit.services import Actor
from anima.domains.settings import services as settings_rules
from anima.domains.settings.schemas import MailFromUpdate, SettingsOut, SettingsUpdate
from anima.http.access import EVERY_MEMBER, OWNERS, TenantContext
from anima.mail.domains import MailFromOut
from anima.runtime import Runtime


class SettingsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/settings"
    tags = ["settings"]

    @get("/", opt=EVERY_MEMBER, summary="Practice settings")
    async def read(self, tenant: TenantContext) -> SettingsOut:
        return settings_rules.to_out(await settings_rules.get_settings(tenant.session))

    @patch("/", opt=OWNERS, summary="Change terminology, locale or time zone (owners)")
    async def update(self, tenant: TenantContext, data: SettingsUpdate) -> SettingsOut:
        return settings_rules.to_out(await settings_rules.update_settings(tenant.session, data))


class MailFromController(Controller):
    """The organization's sending address: its emails' From on a verified domain, else their Reply-To."""

    path = "/api/v1/orgs/{org_slug:str}/settings/mail-from"
    tags = ["settings"]

    @get("/", opt=OWNERS, summary="The sending address, whether its domain is verified, and the From and Reply-To it gives (owners)")
    async def read(self, runtime: Runtime, tenant: TenantContext) -> MailFromOut:
        return await settings_rules.read_mail_from(runtime, tenant.tenant.id)

    @put("/", opt=OWNERS, summary="Set or clear the sending address (owners); used as From only on a domain the operator verified")
    async def update(self, runtime: Runtime, tenant: TenantContext, actor: Actor, data: MailFromUpdate) -> MailFromOut:
        return await settings_rules.set_mail_from(runtime, tenant.session, actor, tenant.tenant.id, data.address)


ROUTE_HANDLERS = [SettingsController, MailFromController]
