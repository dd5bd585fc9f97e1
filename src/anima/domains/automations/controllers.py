"""HTTP routes of playbooks (owners), the event log (owners) and staff alerts (each member's own)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from litestar import Controller, get, patch, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.automations import services as rules
from anima.domains.automations.schemas import (
    AlertOut,
    EventOut,
    RuleOut,
    RuleToggle,
    RunOut,
    TemplateOut,
)
from anima.events.types import EventType
from anima.http.access import EVERY_MEMBER, OWNERS, TenantContext
from anima.http.openapi import answers
from anima.http.pagination import OffsetPagination, Page

TemplateKey = Annotated[str, Parameter(pattern=r"^[a-z0-9-]{1,60}$")]


class PlaybooksController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/playbooks"
    tags = ["playbooks"]

    @get("/marketplace", opt=OWNERS, summary="System playbooks, with whether your plan has them and whether installed")
    async def marketplace(self, tenant: TenantContext, db_session: AsyncSession) -> list[TemplateOut]:
        installed = await rules.installed(tenant.session)
        return [rules.template_out(t, tenant.tenant.tier, installed) for t in await rules.templates(db_session)]

    @post("/marketplace/{key:str}/install", opt=OWNERS | answers(409), status_code=HTTP_201_CREATED, summary="Install a playbook as your own rule")
    async def install(self, tenant: TenantContext, db_session: AsyncSession, key: TemplateKey) -> RuleOut:
        rule = await rules.install(db_session, tenant.session, key=key, tier=tenant.tenant.tier, user_id=tenant.user_id)
        return rules.rule_out(rule)

    @get("/", opt=OWNERS, summary="Your installed rules")
    async def list_rules(self, tenant: TenantContext) -> list[RuleOut]:
        return [rules.rule_out(r) for r in await rules.list_rules(tenant.session)]

    @patch("/{rule_id:uuid}", opt=OWNERS, summary="Switch a rule on or off")
    async def toggle(self, tenant: TenantContext, rule_id: uuid.UUID, data: RuleToggle) -> RuleOut:
        return rules.rule_out(await rules.toggle(tenant.session, rule_id, data.enabled))

    @get("/runs", opt=OWNERS, summary="Runs of your rules, newest first, with each action's outcome")
    async def runs(
        self,
        tenant: TenantContext,
        page: Page,
        status: Literal["RUNNING", "WAITING", "SUCCEEDED", "SKIPPED", "FAILED"] | None = None,
        rule_id: uuid.UUID | None = None,
    ) -> OffsetPagination[RunOut]:
        items, total = await rules.list_runs(tenant.session, limit=page.limit, offset=page.offset, status=status, rule_id=rule_id)
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)


class EventsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/events"
    tags = ["events"]

    @get("/", opt=OWNERS, summary="The organization's event log, newest first (owners)")
    async def list_events(self, tenant: TenantContext, page: Page, type: EventType | None = None) -> OffsetPagination[EventOut]:
        items, total = await rules.list_events(tenant.session, limit=page.limit, offset=page.offset, type=type)
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)


class AlertsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/alerts"
    tags = ["alerts"]

    @get("/", opt=EVERY_MEMBER, summary="Your own alerts, newest first")
    async def list_alerts(self, tenant: TenantContext, page: Page, unread: bool | None = None) -> OffsetPagination[AlertOut]:
        items, total = await rules.list_alerts(tenant.session, tenant.user_id, limit=page.limit, offset=page.offset, unread=unread)
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @post("/{alert_id:uuid}/read", opt=EVERY_MEMBER, status_code=HTTP_200_OK, summary="Mark one of your alerts read")
    async def read(self, tenant: TenantContext, alert_id: uuid.UUID) -> AlertOut:
        return await rules.mark_read(tenant.session, tenant.user_id, alert_id)


ROUTE_HANDLERS = [PlaybooksController, EventsController, AlertsController]
