"""What every workspace page shows around its content: the organization, the viewer, the navigation.

:class:`Workspace` is what a page receives as ``ws`` (built by :mod:`anima.site.frame` on top of
``tenant``, the same authorization as the API); :class:`Person` is the viewer's part of it, reused
for a few seconds per process (:func:`forget_person` drops it after a change). The navigation
lists only the sections the viewer's role may use, so an assistant never meets a locked clinical
link.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from anima.identity.models import Role


@dataclass(frozen=True)
class Section:
    """One entry of the workspace navigation: its key, path under the organization and roles."""

    key: str
    path: str
    roles: frozenset[str]


_ALL = frozenset(r.value for r in Role)
_OWNER = frozenset({Role.OWNER.value})
_FRONT_DESK = frozenset({Role.OWNER.value, Role.ASSISTANT.value})
_CLINICIANS = frozenset({Role.OWNER.value, Role.THERAPIST.value})

#: the workspace's sections in navigation order (domains add theirs here as they land)
SECTIONS: tuple[Section, ...] = (
    Section("dashboard", "", _ALL),
    Section("people", "people", _ALL),
    Section("leads", "leads", _FRONT_DESK),
    Section("calendar", "calendar", _ALL),
    Section("alerts", "alerts", _ALL),
    Section("services", "services", _ALL),
    Section("forms", "forms", _ALL),
    Section("team", "team", _ALL),
    Section("playbooks", "playbooks", _OWNER),
    Section("settings", "settings", _OWNER),
    Section("packages", "packages", _FRONT_DESK),
    Section("invoices", "invoices", _FRONT_DESK),
    Section("payments", "payments", _FRONT_DESK),
    Section("earnings", "earnings", _CLINICIANS),
    Section("money", "money", _OWNER),
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


def cached_person(user_id: uuid.UUID) -> Person | None:
    """``user_id``'s frame data if this process read it less than :data:`PERSON_TTL` seconds ago."""
    return _PEOPLE.get(user_id)


def remember_person(person: Person) -> None:
    """Keep ``person`` for :data:`PERSON_TTL` seconds."""
    _PEOPLE.put(person)
