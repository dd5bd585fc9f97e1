"""Reading and changing the practice settings (one row per tenant, created by provisioning)."""

from __future__ import annotations

import time
from typing import Any
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.settings.models import PracticeSettings
from anima.domains.settings.schemas import SettingsOut, SettingsUpdate
from anima.problems import InvalidInput


@lru_cache(maxsize=1)
def iana_zones() -> frozenset[str]:
    """The IANA time zone names known to this Python (the system tz database or the tzdata package)."""
    return frozenset(zoneinfo.available_timezones())


def to_out(row: PracticeSettings) -> SettingsOut:
    return SettingsOut(row.people_label, row.locale, row.timezone, row.updated_at)


async def get_settings(session: AsyncSession) -> PracticeSettings:
    row = await session.get(PracticeSettings, 1)
    if row is None:  # provisioning seeds it; recreate defaults if someone removed it by hand
        row = PracticeSettings(id=1)
        session.add(row)
        await session.flush()
    return row


@dataclass(frozen=True)
class PracticeDefaults:
    """What every workspace page needs of the settings: the people label, language and IANA zone."""

    people_label: str
    locale: str
    timezone: str


#: seconds a process reuses a tenant's :class:`PracticeDefaults` (a change made here drops them at once)
DEFAULTS_TTL = 30.0
_DEFAULTS: dict[int, tuple[float, PracticeDefaults]] = {}


async def practice_defaults(session: AsyncSession, tenant_id: int) -> PracticeDefaults:
    """The tenant's label, language and zone, read through a per-process cache keyed by tenant.

    ``session`` must be scoped to the tenant ``tenant_id`` (the key is the caller's authorized
    tenant, never a value from a request). Pages read these on every request; the cache spares
    that round trip. :func:`update_settings` empties it in this process; another process sees a
    change within :data:`DEFAULTS_TTL` seconds.
    """
    hit = _DEFAULTS.get(tenant_id)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    row = await get_settings(session)
    value = PracticeDefaults(row.people_label, row.locale, row.timezone)
    if len(_DEFAULTS) >= 10_000:
        _DEFAULTS.clear()
    _DEFAULTS[tenant_id] = (time.monotonic() + DEFAULTS_TTL, value)
    return value


async def update_settings(session: AsyncSession, data: SettingsUpdate) -> PracticeSettings:
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if "timezone" in changes and changes["timezone"] not in iana_zones():
        raise InvalidInput.field("timezone", "iana", f"{changes['timezone']!r} is not an IANA time zone name")
    row = await get_settings(session)
    for key, value in changes.items():
        setattr(row, key, value)
    await session.flush()
    _DEFAULTS.clear()
    return row


async def read_mail_from(runtime: Any, tenant_id: int) -> Any:
    """The organization's sending address and its effect (:class:`anima.mail.domains.MailFromOut`),
    read in a platform transaction of its own (the tenant's role cannot read the registry)."""
    from anima.mail import domains

    async with runtime.sessionmaker() as platform:
        out = await domains.read_org_address(platform, tenant_id, runtime.settings.mail_from)
        await platform.rollback()
    return out


async def set_mail_from(runtime: Any, session: AsyncSession, actor: Any, tenant_id: int, address: str | None) -> Any:
    """Set or clear the organization's sending address (validated: InvalidInput naming
    ``address``), committed in a platform transaction; audited in the tenant (``session``) as
    ``settings.mail_from_changed`` with the address's domain only."""
    from anima.domains.audit.services import record
    from anima.mail import domains

    async with runtime.sessionmaker() as platform:
        async with platform.begin():
            out = await domains.set_org_address(platform, tenant_id, address, runtime.settings.mail_from)
    await record(session, actor, "settings.mail_from_changed",
                 domain=out.address.rpartition("@")[2] if out.address else None, domain_verified=out.domain_verified)
    return out
