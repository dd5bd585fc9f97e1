"""A person's own profile: display name, page language and time zone (platform ``users`` row).

``language`` and ``time_zone`` are optional: unset (None), the organization's practice settings
apply (:mod:`anima.web.workspace` picks the person's own first). The language is one Anima speaks
(en, es, ca, it: the schema and the table's check say so) and the zone an IANA name known to this
Python. Each organization keeps the person's name in its ``staff`` mirror too (the workspace's
lists read it there) and the person's zone (bookings read a therapist's zone there):
:func:`mirror_display_name` writes both into one organization, in a
transaction of that organization (a transaction entered into one tenant cannot reach another).
"""

from __future__ import annotations

import uuid
import zoneinfo
from functools import lru_cache

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.staff.models import StaffMember
from anima.identity.models import Membership, User
from anima.identity.schemas import ProfileOut, ProfileUpdate
from anima.problems import InvalidInput, NotFound
from anima.tenancy.scope import enter_tenant


@lru_cache(maxsize=1)
def iana_zones() -> frozenset[str]:
    """The IANA time zone names known to this Python (the system tz database or tzdata)."""
    return frozenset(zoneinfo.available_timezones())


def to_out(user: User) -> ProfileOut:
    return ProfileOut(user.email, user.display_name, user.language, user.time_zone)


async def get_profile(session: AsyncSession, user_id: uuid.UUID) -> ProfileOut:
    """The person's profile (platform session); NotFound when the user does not exist."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return to_out(user)


async def update_profile(session: AsyncSession, user_id: uuid.UUID, data: ProfileUpdate) -> ProfileOut:
    """Change the person's own display name, language or time zone (platform session).

    Raises:
        InvalidInput: ``time_zone`` is not an IANA zone name. NotFound: no such user.
    """
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    zone = changes.get("time_zone")
    if zone is not None and zone not in iana_zones():
        raise InvalidInput.field("time_zone", "iana", f"{zone!r} is not an IANA time zone name")
    user = (await session.execute(sa.select(User).where(User.id == user_id).with_for_update())).scalar_one_or_none()
    if user is None:
        raise NotFound("user not found")
    for key, value in changes.items():
        setattr(user, key, value)
    await session.flush()
    return to_out(user)


async def organizations_of(session: AsyncSession, user_id: uuid.UUID) -> list[int]:
    """The ids of the organizations ``user_id`` belongs to (platform session)."""
    return list((await session.execute(sa.select(Membership.tenant_id).where(Membership.user_id == user_id))).scalars().all())


async def mirror_display_name(session: AsyncSession, tenant_id: int, user_id: uuid.UUID, display_name: str,
                              time_zone: str | None = None) -> None:
    """Write ``display_name`` and ``time_zone`` (None: the practice's) into the person's ``staff``
    row of ``tenant_id`` (bookings read a therapist's zone there). Enters that tenant, so platform
    statements of the same transaction come first; an inactive tenant is skipped."""
    if await enter_tenant(session, tenant_id) is None:
        return
    await session.execute(sa.update(StaffMember).where(StaffMember.id == user_id).values(display_name=display_name, time_zone=time_zone))


#: the regions of canonical IANA names offered in time zone pickers (legacy aliases are left out)
ZONE_REGIONS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


@lru_cache(maxsize=1)
def _grouped() -> tuple[tuple[str, tuple[str, ...]], ...]:
    groups: dict[str, list[str]] = {region: [] for region in ZONE_REGIONS}
    for name in iana_zones():
        region = name.split("/", 1)[0]
        if region in groups and "/" in name:
            groups[region].append(name)
    return (("UTC", ("UTC",)), *((r, tuple(sorted(z))) for r, z in groups.items() if z))


def zone_groups(current: str | None = None) -> list[tuple[str, tuple[str, ...]]]:
    """Time zones for a picker, grouped by region; ``current`` is offered too when it is an alias."""
    groups = list(_grouped())
    if current and current in iana_zones() and not any(current in zones for _, zones in groups):
        groups.append((current.split("/", 1)[0], (current,)))
    return groups
