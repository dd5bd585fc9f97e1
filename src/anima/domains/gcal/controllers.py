"""JSON routes of Google Calendar: the caller's own connection, owners' overview.

A member connects only their own account (``/google-calendar`` routes act on the caller); the
consent itself happens in the browser: ``POST …/authorization`` answers Google's consent URL, and
Google comes back to the callback page (:mod:`anima.domains.gcal.pages`).
"""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from anima.crypto.cipher import FieldCipher
from anima.domains.gcal import cache, services
from anima.domains.gcal.schemas import AuthorizationOut, CalendarChoice, ConnectionOut, DisconnectOut, StatusOut
from anima.http.access import CLINICIANS, EVERY_MEMBER, OWNERS, TenantContext
from anima.http.openapi import answers
from anima.runtime import Runtime


class GoogleCalendarController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/google-calendar"
    tags = ["google-calendar"]

    @get("/", opt=EVERY_MEMBER, summary="Whether Google Calendar is configured, and the caller's connection (no token)")
    async def read(self, tenant: TenantContext, runtime: Runtime) -> StatusOut:
        return await services.status(tenant.session, runtime.settings, tenant.user_id)

    @post("/authorization", opt=CLINICIANS | answers(409), status_code=HTTP_201_CREATED,
          summary="Start connecting the caller's own Google account: Google's consent URL (PKCE S256; 409 google-calendar-off)")
    async def authorize(self, tenant: TenantContext, cipher: FieldCipher, runtime: Runtime) -> AuthorizationOut:
        url = await services.start(tenant.session, cipher, runtime.settings, user_id=tenant.user_id, org_slug=tenant.tenant.slug,
                                   public_url=runtime.settings.public_url)
        return AuthorizationOut(url)

    @put("/calendar", opt=CLINICIANS | answers(404), summary="Choose the calendar the caller's bookings go to")
    async def choose(self, tenant: TenantContext, data: CalendarChoice) -> ConnectionOut:
        return await services.choose_calendar(tenant.session, tenant.tenant.id, tenant.user_id, data.calendar_id)

    @post("/refresh", opt=CLINICIANS, status_code=HTTP_200_OK, summary="Forget the cached busy times: the next slot search asks Google")
    async def refresh(self, tenant: TenantContext, runtime: Runtime) -> StatusOut:
        cache.forget(tenant.tenant.id, tenant.user_id)
        return await services.status(tenant.session, runtime.settings, tenant.user_id)

    @delete("/", opt=CLINICIANS | answers(404), status_code=HTTP_200_OK,
            summary="Disconnect the caller's Google account: tokens revoked at Google and deleted")
    async def disconnect(self, tenant: TenantContext, cipher: FieldCipher, runtime: Runtime) -> DisconnectOut:
        revoked = await services.disconnect(tenant.session, cipher, runtime.settings, tenant_id=tenant.tenant.id, user_id=tenant.user_id)
        return DisconnectOut(revoked)

    @get("/connections", opt=OWNERS, summary="Who is connected, their calendar and sync state (owners; no token)")
    async def list_connections(self, tenant: TenantContext) -> list[ConnectionOut]:
        return await services.connections(tenant.session)


ROUTE_HANDLERS = [GoogleCalendarController]
