"""The workspace frame of every page under ``/o/{org_slug}``: the provider of ``ws``.

It builds on ``tenant`` (the same authorization as the API: declared roles, membership and live
session in one statement) and adds the viewer's profile and organizations (platform, one read,
reused for :data:`anima.web.workspace.PERSON_TTL` seconds) and the practice's label, language and
zone (tenant, :func:`anima.domains.settings.services.practice_defaults`, reused likewise), so that a
page costs little more than the JSON API for the same data.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from litestar import Request
from sqlalchemy.dialects.postgresql import aggregate_order_by

from anima.domains.settings.services import practice_defaults
from anima.http.access import TenantContext
from anima.identity.models import Membership, User
from anima.identity.tokens import AccessClaims
from anima.runtime import Runtime
from anima.tenancy.models import Tenant
from anima.web import i18n
from anima.web.workspace import OrganizationLink, Person, Workspace, cached_person, remember_person


async def _person(runtime: Runtime, user_id: uuid.UUID) -> Person:
    """The person's profile and organizations, from the cache or in one platform read."""
    cached = cached_person(user_id)
    if cached is not None:
        return cached
    async with runtime.sessionmaker() as platform:
        user = (
            await platform.execute(
                sa.select(
                    User.id, User.display_name, User.email, User.is_operator, User.language, User.time_zone,
                    User.email_verified_at,
                    sa.select(
                        sa.func.coalesce(
                            sa.func.json_agg(aggregate_order_by(
                                sa.func.json_build_array(Tenant.slug, Tenant.name, Membership.role), Tenant.name
                            )),
                            sa.text("'[]'::json"),
                        )
                    )
                    .select_from(Membership)
                    .join(Tenant, Tenant.id == Membership.tenant_id)
                    .where(Membership.user_id == User.id)
                    .scalar_subquery()
                    .label("organizations"),
                ).where(User.id == user_id)
            )
        ).one()
        await platform.rollback()
    person = Person(
        user.id, user.display_name, user.email, user.is_operator, user.language, user.time_zone,
        user.email_verified_at is not None, tuple(OrganizationLink(*row) for row in user.organizations),
    )
    remember_person(person)
    return person


async def provide_workspace(
    request: Request[Any, Any, Any], runtime: Runtime, tenant: TenantContext, claims: AccessClaims
) -> Workspace:
    """The frame of the requested workspace page (see the module docstring)."""
    person = await _person(runtime, claims.user_id)
    settings = await practice_defaults(tenant.session, tenant.tenant.id)
    language = i18n.pick_language(person.language, settings.locale)
    request.scope.setdefault("state", {})["page_language"] = language  # error pages speak it too
    return Workspace(
        slug=tenant.tenant.slug,
        name=tenant.tenant.name,
        tier=tenant.tenant.tier,
        role=tenant.role.value,
        user_id=person.id,
        user_name=person.display_name,
        user_email=person.email,
        is_operator=person.is_operator,
        language=language,
        time_zone=person.time_zone or settings.timezone,
        people_label=settings.people_label,
        organizations=list(person.organizations),
        email_verified=person.email_verified,
    )
