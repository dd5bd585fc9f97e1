"""HTTP routes of identity: signup, login, refresh, logout, me, invitations and members."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from anima.http.deps import client_address, services_from
from anima.http.pagination import OffsetPagination, Page, provide_page
from anima.identity import members as members_service
from anima.identity import sessions as sessions_service
from anima.identity.models import Role
from anima.identity.schemas import (
    AcceptInvitationRequest,
    AcceptInvitationResponse,
    InvitationOut,
    InvitationRequest,
    LoginRequest,
    MemberOut,
    MeResponse,
    RefreshRequest,
    RoleChange,
    SignupRequest,
    SignupResponse,
    TokenPair,
)
from anima.identity.signup import signup
from anima.identity.tokens import AccessClaims


class AuthController(Controller):
    """Accounts and sessions."""

    path = "/api/v1"
    tags = ["identity"]

    @post("/signup", status_code=HTTP_201_CREATED, summary="Create an organization, its owner and its tenant")
    async def signup(self, request: Request[Any, Any, Any], state: State, db_session: AsyncSession, data: SignupRequest) -> SignupResponse:
        services = services_from(state)
        address = client_address(request)
        await services.rate_limiter.hit("signup", "address", address)
        return await signup(
            db_session,
            services.db,
            data,
            secret=services.settings.secret_key,
            client_address=address,
            user_agent=request.headers.get("user-agent"),
            grant_paid_tier=not services.settings.is_production and not services.settings.payments_configured,
        )

    @post("/auth/login", status_code=HTTP_200_OK, summary="Log in with email and password")
    async def login(self, request: Request[Any, Any, Any], state: State, db_session: AsyncSession, data: LoginRequest) -> TokenPair:
        services = services_from(state)
        address = client_address(request)
        await services.rate_limiter.hit("login", "address", address)
        await services.rate_limiter.hit("login", "account", sessions_service.normalize_email(data.email))
        return await sessions_service.login(
            db_session,
            email=data.email,
            password=data.password,
            secret=services.settings.secret_key,
            client_address=address,
            user_agent=request.headers.get("user-agent"),
        )

    @post("/auth/refresh", status_code=HTTP_200_OK, summary="Rotate the refresh token")
    async def refresh(self, request: Request[Any, Any, Any], state: State, db_session: AsyncSession, data: RefreshRequest) -> TokenPair:
        services = services_from(state)
        await services.rate_limiter.hit("refresh", "address", client_address(request))
        await services.rate_limiter.hit("refresh", "session", data.refresh_token[:16])
        return await sessions_service.refresh(db_session, token=data.refresh_token, secret=services.settings.secret_key)

    @post("/auth/logout", status_code=HTTP_204_NO_CONTENT, summary="End the current session")
    async def logout(self, db_session: AsyncSession, claims: AccessClaims) -> None:
        await sessions_service.logout(db_session, session_id=claims.session_id, user_id=claims.user_id)

    @get("/me", summary="The current user and their memberships")
    async def me(self, db_session: AsyncSession, claims: AccessClaims) -> MeResponse:
        return await sessions_service.me(db_session, user_id=claims.user_id, session_id=claims.session_id)

    @post("/invitations/accept", status_code=HTTP_200_OK, summary="Accept an invitation (creates the account if new)")
    async def accept(
        self, request: Request[Any, Any, Any], state: State, db_session: AsyncSession, data: AcceptInvitationRequest
    ) -> AcceptInvitationResponse:
        limiter = services_from(state).rate_limiter
        await limiter.hit("accept", "address", client_address(request))
        await limiter.hit("accept", "invitation", data.token[:16])
        return await members_service.accept_invitation(
            db_session, token=data.token, password=data.password, display_name=data.display_name
        )


OWNER_ONLY = frozenset({Role.OWNER.value})
ANY_MEMBER = None


class MembersController(Controller):
    """Members and invitations of one organization (owners manage; every member may list)."""

    path = "/api/v1/orgs/{org_slug:str}"
    tags = ["members"]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}

    async def _access(self, db_session: AsyncSession, org_slug: str, claims: AccessClaims, roles: frozenset[str] | None):
        return await members_service.require_member(
            db_session, slug=org_slug, user_id=claims.user_id, session_id=claims.session_id, roles=roles
        )

    @get("/members", summary="List members")
    async def list_members(self, db_session: AsyncSession, org_slug: str, claims: AccessClaims, page: Page) -> OffsetPagination[MemberOut]:
        access = await self._access(db_session, org_slug, claims, ANY_MEMBER)
        items, total = await members_service.list_members(db_session, access, limit=page.limit, offset=page.offset)
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @post("/invitations", status_code=HTTP_201_CREATED, summary="Invite someone by email with a role (owners)")
    async def invite(
        self, state: State, db_session: AsyncSession, org_slug: str, claims: AccessClaims, data: InvitationRequest
    ) -> InvitationOut:
        access = await self._access(db_session, org_slug, claims, OWNER_ONLY)
        services = services_from(state)
        await services.rate_limiter.hit("invite", "tenant", str(access.tenant_id))
        await services.rate_limiter.hit("invite", "user", str(claims.user_id))
        return await members_service.invite(
            db_session,
            access,
            email=data.email,
            role=data.role,
            invited_by=claims.user_id,
            public_url=services.settings.public_url,
            log_link=not services.settings.is_production,
        )

    @get("/invitations", summary="List invitations (owners)")
    async def list_invitations(self, db_session: AsyncSession, org_slug: str, claims: AccessClaims, page: Page) -> OffsetPagination[InvitationOut]:
        access = await self._access(db_session, org_slug, claims, OWNER_ONLY)
        items, total = await members_service.list_invitations(db_session, access, limit=page.limit, offset=page.offset)
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @delete("/invitations/{invitation_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Revoke an invitation (owners)")
    async def revoke_invitation(self, db_session: AsyncSession, org_slug: str, claims: AccessClaims, invitation_id: uuid.UUID) -> None:
        access = await self._access(db_session, org_slug, claims, OWNER_ONLY)
        await members_service.revoke_invitation(db_session, access, invitation_id)

    @patch("/members/{user_id:uuid}", summary="Change a member's role (owners; never the last owner)")
    async def change_role(
        self, db_session: AsyncSession, org_slug: str, claims: AccessClaims, user_id: uuid.UUID, data: RoleChange
    ) -> MemberOut:
        access = await self._access(db_session, org_slug, claims, OWNER_ONLY)
        return await members_service.change_role(db_session, access, user_id, data.role)

    @delete("/members/{user_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Remove a member (owners; never the last owner)")
    async def remove(self, db_session: AsyncSession, org_slug: str, claims: AccessClaims, user_id: uuid.UUID) -> None:
        access = await self._access(db_session, org_slug, claims, OWNER_ONLY)
        await members_service.remove_member(db_session, access, user_id)


ROUTE_HANDLERS = [AuthController, MembersController]
