"""Request and response bodies of the identity API (msgspec structures, validated by Litestar)."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

import msgspec

from anima.request_body import RequestBody
from anima.tenancy.naming import SLUG_PATTERN

#: a pragmatic email shape (RFC 5321 lengths, no spaces or control characters, one @, a dotted domain)
EMAIL_PATTERN = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"

Email = Annotated[str, msgspec.Meta(max_length=254, pattern=EMAIL_PATTERN, description="email address")]
Slug = Annotated[str, msgspec.Meta(min_length=3, max_length=40, pattern=SLUG_PATTERN, description="organization slug")]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$")]
OrgName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
TierName = Literal["BUILDER", "PRO", "CENTER"]
RoleName = Literal["OWNER", "THERAPIST", "ASSISTANT"]


class SignupRequest(RequestBody):
    organization_name: OrgName
    slug: Slug
    email: Email
    password: Password
    display_name: DisplayName
    tier: TierName = "BUILDER"


class LoginRequest(RequestBody):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: Password


class RefreshRequest(RequestBody):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class TokenPair(msgspec.Struct):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    session_expires_at: datetime.datetime


class MembershipOut(msgspec.Struct):
    organization_slug: str
    organization_name: str
    role: str
    tier: str
    state: str


class MeResponse(msgspec.Struct):
    id: uuid.UUID
    email: str
    display_name: str
    is_operator: bool
    memberships: list[MembershipOut]


class SignupResponse(msgspec.Struct):
    organization: MembershipOut
    user_id: uuid.UUID
    tokens: TokenPair
    requested_tier: str
    checkout_required: bool


class InvitationRequest(RequestBody):
    email: Email
    role: RoleName


class InvitationOut(msgspec.Struct):
    id: uuid.UUID
    email: str
    role: str
    expires_at: datetime.datetime
    accepted_at: datetime.datetime | None
    revoked_at: datetime.datetime | None


class AcceptInvitationRequest(RequestBody):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    password: Password
    display_name: DisplayName | None = None


class AcceptInvitationResponse(msgspec.Struct):
    organization_slug: str
    role: str
    user_id: uuid.UUID
    created_account: bool


class MemberOut(msgspec.Struct):
    user_id: uuid.UUID
    email: str
    display_name: str
    role: str
    active: bool


class RoleChange(RequestBody):
    role: RoleName


LanguageCode = Literal["en", "es", "ca", "it"]
TimeZoneName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="IANA time zone, e.g. Europe/Madrid")]


class ProfileUpdate(RequestBody, omit_defaults=True):
    """A person's own preferences: ``language`` and ``time_zone`` null mean "the organization's"."""

    display_name: DisplayName | msgspec.UnsetType = msgspec.UNSET
    language: LanguageCode | None | msgspec.UnsetType = msgspec.UNSET
    time_zone: TimeZoneName | None | msgspec.UnsetType = msgspec.UNSET


class ProfileOut(msgspec.Struct):
    email: str
    display_name: str
    language: str | None
    time_zone: str | None
