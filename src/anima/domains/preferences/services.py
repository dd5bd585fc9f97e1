"""Reading and setting a member's notification preferences.

Defaults per role (a member with no row): therapists get their own bookings, cancellations and
risk alerts; owners risk alerts and new leads; assistants new bookings, cancellations and new
leads. Which events a member may hear about at all is decided when sending
(:mod:`anima.domains.preferences.emails`), not here.
"""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.audit.services import Actor, record
from anima.domains.preferences.models import NotificationPreference
from anima.domains.preferences.schemas import PreferencesIn, PreferencesOut

#: the four switches, in display order
KINDS = ("new_booking", "cancellation", "risk_alert", "new_lead")

#: role -> the switches on by default
DEFAULTS: dict[str, frozenset[str]] = {
    "THERAPIST": frozenset({"new_booking", "cancellation", "risk_alert"}),
    "OWNER": frozenset({"risk_alert", "new_lead"}),
    "ASSISTANT": frozenset({"new_booking", "cancellation", "new_lead"}),
}


def defaults_for(role: str) -> PreferencesOut:
    """The role's default switches (all off for an unknown role)."""
    on = DEFAULTS.get(role, frozenset())
    return PreferencesOut(**{k: k in on for k in KINDS}, is_default=True)


async def preferences_of(session: AsyncSession, staff_id: uuid.UUID, role: str) -> PreferencesOut:
    """The member's switches: their row, else their role's defaults."""
    row = await session.get(NotificationPreference, staff_id)
    if row is None:
        return defaults_for(role)
    return PreferencesOut(**{k: getattr(row, k) for k in KINDS}, is_default=False)


async def set_preferences(session: AsyncSession, actor: Actor, staff_id: uuid.UUID, data: PreferencesIn) -> PreferencesOut:
    """Store all four switches for ``staff_id`` (insert or replace); audited as
    ``notifications.preferences_changed`` with the switches."""
    values = {k: getattr(data, k) for k in KINDS}
    await session.execute(
        pg_insert(NotificationPreference).values(staff_id=staff_id, **values)
        .on_conflict_do_update(index_elements=["staff_id"], set_=values)
    )
    await record(session, actor, "notifications.preferences_changed", staff_id=str(staff_id), **values)
    return PreferencesOut(**values, is_default=False)


async def wanted(session: AsyncSession, staff_id: uuid.UUID, role: str, kind: str) -> bool:
    """Whether the member wants emails of ``kind`` (one of :data:`KINDS`)."""
    return bool(getattr(await preferences_of(session, staff_id, role), kind))
