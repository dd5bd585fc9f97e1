"""What every workspace page shows around its content: the organization, the viewer, the navigation.

``ws`` is the provider of page routes under ``/o/{org_slug}``; it builds on ``tenant`` (the same
authorization as the API: declared roles, membership and live session in one statement) and adds
the viewer's profile and organizations (platform, :class:`Person`) and the practice's label,
language and zone (tenant, :func:`anima.domains.settings.services.practice_defaults`), each reused
for a few seconds per process so that a page costs little more than the JSON API.
The navigation lists only the sections the viewer's role may use, so an assistant never meets a
locked clinical link.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from litestar import Request

from anima.domains.settings.services import practice_defaults
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


@dataclass(frozen=True)
class Person:
    """What the frame shows of the signed-in person (platform tables), cached briefly per process."""

    id: uuid.UUID
    display_name: str
    email: str
    is_operator: bool
    language: str | None
    time_zone: str | None
    email_verified: bool
    organizations: tuple[OrganizationLink, ...]


class _PersonCache:
    """Per process, for :data:`PERSON_TTL` seconds: a person's frame data, keyed by user id.

    Never an authorization: every page is authorized by the scoping statement before the frame is
    built; the cache only spares the two platform reads (profile and the organization switcher)
    that would otherwise cost a page more than the JSON API for the same data. A change made in
    this process (profile, email verification) drops the entry at once (:func:`forget_person`);
    another process sees it within the TTL.
    """

    def __init__(self, ttl: float, capacity: int = 10_000) -> None:
        self.ttl, self.capacity = ttl, capacity
        self._entries: dict[uuid.UUID, tuple[float, Person]] = {}

    def get(self, user_id: uuid.UUID) -> Person | None:
        entry = self._entries.get(user_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, person: Person) -> None:
        if len(self._entries) >= self.capacity:
            self._entries.clear()
        self._entries[person.id] = (time.monotonic() + self.ttl, person)

    def forget(self, user_id: uuid.UUID) -> None:
        self._entries.pop(user_id, None)


#: seconds a person's frame data is reused by this process
PERSON_TTL = 30.0
_PEOPLE = _PersonCache(PERSON_TTL)


def forget_person(user_id: uuid.UUID) -> None:
    """Drop ``user_id``'s cached frame data (after a change to their profile or memberships)."""
    _PEOPLE.forget(user_id)


async def _person(runtime: Runtime, user_id: uuid.UUID) -> Person:
    """The person's profile and organizations, from the cache or in one platform read."""
    cached = _PEOPLE.get(user_id)
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
    _PEOPLE.put(person)
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
