"""HTTP routes of identity: signup, login, refresh, logout, me, invitations and members."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from anima.http.access import EVERY_MEMBER, OWNERS, MemberContext, client_address
from anima.http.openapi import answers
from anima.runtime import Runtime
from anima.http.pagination import OffsetPagination, Page
from anima.identity import invitation_page
from anima.identity import members as members_service
from anima.identity import sessions as sessions_service
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

    @post("/signup", opt=answers(409, 429), status_code=HTTP_201_CREATED, summary="Create an organization, its owner and its tenant")
    async def signup(self, request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, data: SignupRequest) -> SignupResponse:
        services = runtime
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
            public_url=services.settings.public_url,
            log_link=not services.settings.is_production,
        )

    @post("/auth/login", opt=answers(401, 429), status_code=HTTP_200_OK, summary="Log in with email and password")
    async def login(self, request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, data: LoginRequest) -> TokenPair:
        services = runtime
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

    @post("/auth/refresh", opt=answers(401, 429), status_code=HTTP_200_OK, summary="Rotate the refresh token")
    async def refresh(self, request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, data: RefreshRequest) -> TokenPair:
        services = runtime
        await services.rate_limiter.hit("refresh", "address", client_address(request))
        await services.rate_limiter.hit("refresh", "session", data.refresh_token[:16])
        return await sessions_service.refresh(db_session, token=data.refresh_token, secret=services.settings.secret_key)

    @post("/auth/logout", status_code=HTTP_204_NO_CONTENT, summary="End the current session")
    async def logout(self, db_session: AsyncSession, claims: AccessClaims) -> None:
        await sessions_service.logout(db_session, session_id=claims.session_id, user_id=claims.user_id)

    @get("/me", summary="The current user and their memberships")
    async def me(self, db_session: AsyncSession, claims: AccessClaims) -> MeResponse:
        return await sessions_service.me(db_session, user_id=claims.user_id, session_id=claims.session_id)

    @post("/invitations/accept", opt=answers(401, 403, 404, 409, 429), status_code=HTTP_200_OK, summary="Accept an invitation (creates the account if new)")
    async def accept(
        self, request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, data: AcceptInvitationRequest
    ) -> AcceptInvitationResponse:
        limiter = runtime.rate_limiter
        await limiter.hit("accept", "address", client_address(request))
        await limiter.hit("accept", "invitation", data.token[:16])
        return await members_service.accept_invitation(
            db_session, token=data.token, password=data.password, display_name=data.display_name
        )


class MembersController(Controller):
    """Members and invitations of one organization (owners manage; every member may list)."""

    path = "/api/v1/orgs/{org_slug:str}"
    tags = ["members"]

    @get("/members", opt=EVERY_MEMBER, summary="List members")
    async def list_members(self, member: MemberContext, page: Page) -> OffsetPagination[MemberOut]:
        items, total = await members_service.list_members(member.session, member.tenant, limit=page.limit, offset=page.offset)
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @post("/invitations", opt=OWNERS | answers(409, 429), status_code=HTTP_201_CREATED, summary="Invite someone by email with a role (owners)")
    async def invite(self, runtime: Runtime, member: MemberContext, data: InvitationRequest) -> InvitationOut:
        await runtime.rate_limiter.hit("invite", "tenant", str(member.tenant.id))
        await runtime.rate_limiter.hit("invite", "user", str(member.user_id))
        return await members_service.invite(
            member.session,
            member.tenant,
            email=data.email,
            role=data.role,
            invited_by=member.user_id,
            public_url=runtime.settings.public_url,
            log_link=not runtime.settings.is_production,
        )

    @get("/invitations", opt=OWNERS, summary="List invitations (owners)")
    async def list_invitations(self, member: MemberContext, page: Page) -> OffsetPagination[InvitationOut]:
        items, total = await members_service.list_invitations(member.session, member.tenant, limit=page.limit, offset=page.offset)
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @delete("/invitations/{invitation_id:uuid}", opt=OWNERS, status_code=HTTP_204_NO_CONTENT, summary="Revoke an invitation (owners)")
    async def revoke_invitation(self, member: MemberContext, invitation_id: uuid.UUID) -> None:
        await members_service.revoke_invitation(member.session, member.tenant, invitation_id)

    @patch("/members/{user_id:uuid}", opt=OWNERS | answers(409), summary="Change a member's role (owners; never the last owner)")
    async def change_role(self, member: MemberContext, user_id: uuid.UUID, data: RoleChange) -> MemberOut:
        return await members_service.change_role(member.session, member.tenant, user_id, data.role)

    @delete("/members/{user_id:uuid}", opt=OWNERS | answers(409), status_code=HTTP_204_NO_CONTENT, summary="Remove a member (owners; never the last owner)")
    async def remove(self, member: MemberContext, user_id: uuid.UUID) -> None:
        await members_service.remove_member(member.session, member.tenant, user_id)


ROUTE_HANDLERS = [AuthController, MembersController, *invitation_page.ROUTE_HANDLERS]
