"""Therapists' earnings: per therapist and currency (never summed across currencies), per period.

From the payment requests tied to a booking (``booking_id``) that SUCCEEDED in the period
(``settled_at`` in ``[start, end)``, the period's dates read in the practice's IANA zone), the
booking giving the therapist:

* ``sessions`` — distinct bookings paid; ``gross_minor`` — what patients paid;
* ``fees_minor`` — the platform's application fees; ``refunds_minor`` — refunded so far;
* ``net_minor = gross − fees − refunds``.

Reads the bookings' ``therapist_id`` only (the bookings domain owns its rows).
"""

from __future__ import annotations

import csv
import datetime
import io
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.bookings.models import Booking
from anima.domains.payments.models import PaymentRequest
from anima.problems import InvalidInput

#: the longest period one query covers
MAX_DAYS = 366


@dataclass(frozen=True)
class EarningsRow:
    """One therapist's earnings in one currency over the period (minor units)."""

    therapist_id: uuid.UUID | None
    currency: str
    sessions: int
    gross_minor: int
    fees_minor: int
    refunds_minor: int
    net_minor: int


def period_bounds(start: datetime.date, end: datetime.date, time_zone: str) -> tuple[datetime.datetime, datetime.datetime]:
    """``[start 00:00, end+1 00:00)`` in ``time_zone`` as UTC instants (``end`` inclusive).

    Raises InvalidInput: a date outside the years 2000–2200, ``end`` before ``start``, or a period
    longer than :data:`MAX_DAYS` days.
    """
    for name, day in (("start", start), ("end", end)):
        if not 2000 <= day.year <= 2200:
            raise InvalidInput.field(name, "range", "a date between the years 2000 and 2200")
    if end < start:
        raise InvalidInput.field("end", "after-start", "the period ends before it starts")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput.field("end", "period", f"a period covers at most {MAX_DAYS} days")
    zone = ZoneInfo(time_zone)
    lower = datetime.datetime.combine(start, datetime.time(), zone).astimezone(datetime.UTC)
    upper = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time(), zone).astimezone(datetime.UTC)
    return lower, upper


async def earnings(
    session: AsyncSession, *, lower: datetime.datetime, upper: datetime.datetime, therapist_id: uuid.UUID | None = None,
) -> list[EarningsRow]:
    """Rows per (therapist, currency), ordered by therapist then currency (see the module docstring)."""
    fees = sa.func.coalesce(sa.func.sum(sa.func.coalesce(PaymentRequest.application_fee_minor, 0)), 0)
    query = (
        sa.select(
            Booking.therapist_id, PaymentRequest.currency, sa.func.count(sa.distinct(PaymentRequest.booking_id)),
            sa.func.sum(PaymentRequest.amount_minor), fees, sa.func.sum(PaymentRequest.refunded_minor),
        )
        .join(Booking, Booking.id == PaymentRequest.booking_id)
        .where(PaymentRequest.status == "SUCCEEDED", PaymentRequest.settled_at >= lower, PaymentRequest.settled_at < upper)
        .group_by(Booking.therapist_id, PaymentRequest.currency)
        .order_by(Booking.therapist_id, PaymentRequest.currency)
    )
    if therapist_id is not None:
        query = query.where(Booking.therapist_id == therapist_id)
    rows = (await session.execute(query)).all()
    return [EarningsRow(t, c, int(n), int(g), int(f), int(r), int(g) - int(f) - int(r)) for t, c, n, g, f, r in rows]


def to_csv(rows: list[EarningsRow]) -> str:
    """The rows as CSV (header first; amounts in minor units with their currency)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["therapist_id", "currency", "sessions", "gross_minor", "fees_minor", "refunds_minor", "net_minor"])
    for r in rows:
        writer.writerow([r.therapist_id or "", r.currency, r.sessions, r.gross_minor, r.fees_minor, r.refunds_minor, r.net_minor])
    return out.getvalue()
