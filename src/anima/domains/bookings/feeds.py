"""A therapist's private calendar feed (RFC 5545): a secret URL a calendar application subscribes to.

**The secret.** :func:`issue` makes a token of 32 random bytes (``secrets.token_urlsafe``, 43
characters) and keeps only its SHA-256 in ``calendar_feeds`` (one row per therapist), so the URL
is shown once, when it is made; regenerating replaces the hash (the old URL stops at once) and
:func:`revoke` deletes it. The URL is ``/p/<slug>/feed/<token>.ics``; a token of another shape is
never looked up.

**What a feed shows.** The therapist's bookings from :data:`PAST` ago to :data:`AHEAD` ahead (at
most :data:`MOST` events): each event is the **service's name** with the booked time (UTC, so
every calendar shows the same instant) and the location — never the patient's name, contact or
any clinical detail, because a subscribed calendar lives at a third party and is often shared.
Cancelled and expired bookings stay in the feed as STATUS:CANCELLED so a calendar removes them.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.bookings.ics import feed_calendar
from anima.domains.bookings.models import Booking, CalendarFeed, Occurrence
from anima.domains.catalog.models import Service

#: the shape of a feed token (``secrets.token_urlsafe(32)``)
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")
PAST = datetime.timedelta(days=60)
AHEAD = datetime.timedelta(days=400)
MOST = 2000


def feed_url(public_url: str, org_slug: str, token: str) -> str:
    """The absolute URL of a feed: ``<public_url>/p/<slug>/feed/<token>.ics`` (``ANIMA_PUBLIC_URL``)."""
    return f"{public_url.rstrip('/')}/p/{org_slug}/feed/{token}.ics"


def digest(token: str) -> bytes:
    """The SHA-256 of a token, as stored."""
    return hashlib.sha256(token.encode()).digest()


async def issue(session: AsyncSession, therapist_id: uuid.UUID) -> str:
    """A new secret token for the therapist's feed, replacing any previous one; returns the token
    (the only moment it is known)."""
    token = secrets.token_urlsafe(32)
    row = (await session.execute(sa.select(CalendarFeed).where(CalendarFeed.therapist_id == therapist_id))).scalar_one_or_none()
    if row is None:
        session.add(CalendarFeed(id=uuid.uuid4(), therapist_id=therapist_id, token_hash=digest(token)))
    else:
        row.token_hash, row.updated_at = digest(token), datetime.datetime.now(datetime.UTC)
    await session.flush()
    return token


async def revoke(session: AsyncSession, therapist_id: uuid.UUID) -> bool:
    """Delete the therapist's feed; whether there was one."""
    result = await session.execute(sa.delete(CalendarFeed).where(CalendarFeed.therapist_id == therapist_id))
    return bool(result.rowcount)


async def issued_at(session: AsyncSession, therapist_id: uuid.UUID) -> datetime.datetime | None:
    """When the therapist's current feed URL was made, or None without one."""
    row = (await session.execute(sa.select(CalendarFeed).where(CalendarFeed.therapist_id == therapist_id))).scalar_one_or_none()
    return None if row is None else row.updated_at


async def therapist_of(session: AsyncSession, token: str) -> uuid.UUID | None:
    """The therapist whose feed ``token`` opens, or None (wrong shape, revoked, replaced)."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    return (await session.execute(sa.select(CalendarFeed.therapist_id).where(CalendarFeed.token_hash == digest(token)))).scalar()


async def feed(session: AsyncSession, therapist_id: uuid.UUID, *, name: str, now: datetime.datetime | None = None) -> bytes:
    """The therapist's feed as ``text/calendar`` bytes (see the module docstring for its content)."""
    now = now or datetime.datetime.now(datetime.UTC)
    rows = await session.execute(
        sa.select(Booking, Service.name, Service.location_detail, Occurrence.location)
        .join(Service, Service.id == Booking.service_id).outerjoin(Occurrence, Occurrence.id == Booking.occurrence_id)
        .where(Booking.therapist_id == therapist_id, Booking.starts_at >= now - PAST, Booking.starts_at < now + AHEAD)
        .order_by(Booking.starts_at, Booking.id).limit(MOST))
    return feed_calendar([(b, service, occurrence or detail or "") for b, service, detail, occurrence in rows], name=name, now=now)
