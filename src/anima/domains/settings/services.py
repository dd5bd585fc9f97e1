"""Reading and changing the practice settings (one row per tenant, created by provisioning)."""

from __future__ import annotations

import zoneinfo
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


async def update_settings(session: AsyncSession, data: SettingsUpdate) -> PracticeSettings:
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if "timezone" in changes and changes["timezone"] not in iana_zones():
        raise InvalidInput.field("timezone", "iana", f"{changes['timezone']!r} is not an IANA time zone name")
    row = await get_settings(session)
    for key, value in changes.items():
        setattr(row, key, value)
    await session.flush()
    return row
