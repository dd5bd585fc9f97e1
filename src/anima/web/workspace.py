"""What every workspace page shows around its content: the organization, the viewer, the navigation.

``ws`` is the provider of page routes under ``/o/{org_slug}``; it builds on ``tenant`` (the same
authorization as the API: declared roles, membership and live session in one statement) and adds
two reads: the viewer's profile and organizations (platform) and the practice settings (tenant).
The navigation lists only the sections the viewer's role may use, so an assistant never meets a
locked clinical link.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from litestar import Request

from anima.domains.settings.services import get_settings
from anima.http.access import TenantContext
from anima.identity.models import Membership, Role, User
from anima.identity.tokens import AccessClaims
from anima.runtime import Runtime
from anima.tenancy.models import Tenant
from anima.web import i18n


@dataclass(frozen=True)
class Section:
    """One entry of the workspace navigation: its key, path under the organization and roles."""

    key: str
    path: str
    roles: frozenset[str]


_ALL = frozenset(r.value for r in Role)
_OWNER = frozenset({Role.OWNER.value})

#: the workspace's sections in navigation order (domains add theirs here as they land)
SECTIONS: tuple[Section, ...] = (
    Section("dashboard", "", _ALL),
    Section("people", "people", _ALL),
    Section("alerts", "alerts", _ALL),
    Section("services", "services", _ALL),
    Section("team", "team", _ALL),
    Section("playbooks", "playbooks", _OWNER),
    Section("settings", "settings", _OWNER),
    Section("billing", "billing", _OWNER),
)


@dataclass(frozen=True)
class OrganizationLink:
    """An organization the viewer belongs to, for the switcher."""

    slug: str
    name: str
    role: str


@dataclass
class Workspace:
    """The frame of a workspace page (the template name is ``ws``)."""

    slug: str
    name: str
    tier: str
    role: str
    user_id: uuid.UUID
    user_name: str
    user_email: str
    is_operator: bool
    language: str
    time_zone: str
    people_label: str
    organizations: list[OrganizationLink] = field(default_factory=list)
    active: str = "dashboard"
    #: whether the viewer has confirmed their email address (unconfirmed: a gentle reminder)
    email_verified: bool = True

    @property
    def base(self) -> str:
        """The workspace's URL prefix (``/o/<slug>``)."""
        return f"/o/{self.slug}"

    @property
    def sections(self) -> list[Section]:
        """The navigation sections this viewer's role may use."""
        return [s for s in SECTIONS if self.role in s.roles]

    def may(self, key: str) -> bool:
        """Whether the navigation offers section ``key`` to this viewer."""
        return any(s.key == key for s in self.sections)

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER.value

    @property
    def is_clinician(self) -> bool:
        return self.role in (Role.OWNER.value, Role.THERAPIST.value)


async def provide_workspace(
    request: Request[Any, Any, Any], runtime: Runtime, tenant: TenantContext, claims: AccessClaims
) -> Workspace:
    """The frame of the requested workspace page (see the module docstring)."""
    async with runtime.sessionmaker() as platform:
        user = (
            await platform.execute(
                sa.select(
                    User.id, User.display_name, User.email, User.is_operator, User.language, User.time_zone,
                    User.email_verified_at,
                )
                .where(User.id == claims.user_id)
            )
        ).one()
        rows = (
            await platform.execute(
                sa.select(Tenant.slug, Tenant.name, Membership.role)
                .join(Membership, Membership.tenant_id == Tenant.id)
                .where(Membership.user_id == claims.user_id)
                .order_by(Tenant.name)
            )
        ).all()
        await platform.rollback()
    settings = await get_settings(tenant.session)
    language = i18n.pick_language(user.language, settings.locale)
    request.scope.setdefault("state", {})["page_language"] = language  # error pages speak it too
    return Workspace(
        slug=tenant.tenant.slug,
        name=tenant.tenant.name,
        tier=tenant.tenant.tier,
        role=tenant.role.value,
        user_id=user.id,
        user_name=user.display_name,
        user_email=user.email,
        is_operator=user.is_operator,
        language=language,
        time_zone=user.time_zone or settings.timezone,
        people_label=settings.people_label,
        organizations=[OrganizationLink(r.slug, r.name, r.role) for r in rows],
        email_verified=user.email_verified_at is not None,
    )
