"""Busy times from Google for the slot search: what a connected therapist's calendar holds.

:func:`provider` gives the slot search (:func:`anima.domains.bookings.services.search`) a function
``therapist_id, start, end -> busy intervals``. For a therapist without a connection, with Google
Calendar off, or when Google fails or times out (:data:`~anima.domains.gcal.google.TIMEOUT`), it
answers no intervals — the slots are still computed from Anima's own bookings — and the failure
is recorded on the connection (``last_error``), which the therapist sees on their page.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from anima.config import Settings
from anima.crypto.cipher import FieldCipher
from anima.crypto.keyring import Keyring
from anima.domains.gcal import cache, google, services
from anima.logs import get_logger

log = get_logger(__name__)

Interval = tuple[datetime.datetime, datetime.datetime]
BusyOf = Callable[[uuid.UUID, datetime.datetime, datetime.datetime], Awaitable[list[Interval]]]


async def busy_intervals(session: AsyncSession, cipher: FieldCipher, settings: Settings, tenant_id: int, therapist_id: uuid.UUID,
                         start: datetime.datetime, end: datetime.datetime) -> list[Interval]:
    """Google's busy intervals of the therapist's chosen calendar meeting ``[start, end)`` (cached;
    empty when not connected, off, or failing — see the module docstring)."""
    if not settings.google_configured:
        return []
    conn = await services.connection(session, therapist_id)
    if conn is None or conn.needs_reconnect:
        return []
    cached = cache.lookup(tenant_id, therapist_id, start, end)
    if cached is not None:
        return list(cached)
    try:
        token = await services.access_token(session, cipher, settings, conn)
        async with google.CalendarApi(settings, token) as api:
            busy = await api.free_busy(conn.calendar_id, start, end)
    except google.GoogleError as exc:
        log.warning("google freebusy failed", error=str(exc))
        services.note_error(conn, f"FreeBusy: {exc}")
        return []
    cache.store(tenant_id, therapist_id, start, end, busy)
    services.note_success(conn)
    return busy


def provider(session: AsyncSession, cipher: FieldCipher, settings: Settings, tenant_id: int) -> BusyOf:
    """:func:`busy_intervals` bound to one request's tenant, for the slot search."""

    async def busy_of(therapist_id: uuid.UUID, start: datetime.datetime, end: datetime.datetime) -> list[Interval]:
        return await busy_intervals(session, cipher, settings, tenant_id, therapist_id, start, end)

    return busy_of


def provider_for(session: AsyncSession, keyring: Keyring, settings: Settings, tenant_id: int) -> BusyOf:
    """:func:`provider` for a caller holding the process keyring rather than a cipher (public pages)."""
    return provider(session, FieldCipher(keyring, session, tenant_id), settings, tenant_id)
