"""Bodies of the operator API."""

from __future__ import annotations

import datetime
from typing import Annotated

import msgspec

from anima.identity.schemas import Email, OrgName, Slug, TierName
from anima.request_body import RequestBody


class TenantUsage(msgspec.Struct):
    members: int
    staff_active: int
    services: int


class TenantOut(msgspec.Struct):
    id: int
    slug: str
    name: str
    tier: str
    state: str
    revision: str | None
    last_migration_error: str | None
    created_at: datetime.datetime
    usage: TenantUsage | None = None


class TenantCreate(RequestBody):
    slug: Slug
    name: OrgName
    owner_email: Email
    tier: TierName = "BUILDER"


class StateChange(RequestBody):
    reason: Annotated[str, msgspec.Meta(min_length=3, max_length=500)]
