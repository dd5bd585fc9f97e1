"""Therapists' earnings: per therapist and currency (never summed across currencies), per period.

From the payment requests tied to a booking (``booking_id``) that SUCCEEDED in the period
(``settled_at`` in ``[start, end)``, the period's dates read in the practice's IANA zone), the
booking giving the therapist:

* ``sessions`` — distinct bookings paid; ``gross_minor`` — what patients paid;
* ``fees_minor`` — the platform's application fees; ``refunds_minor`` — refunded so far;
* ``net_minor = gross − fees − refunds``;
* the therapist's shares of those bookings (``booking_transfers``, :mod:`anima.domains.payments.transfers`):
  ``paid_out_minor`` — transferred to them and not reversed; ``pending_minor`` — recorded and
  owed, not yet transferred (shares paid outside Anima are in neither).

:func:`totals` sums the rows per currency (one total per currency, never across them).

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
    paid_out_minor: int = 0
    pending_minor: int = 0


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
    shares = await _shares(session, lower=lower, upper=upper, therapist_id=therapist_id)
    return [EarningsRow(t, c, int(n), int(g), int(f), int(r), int(g) - int(f) - int(r), *shares.get((t, c), (0, 0)))
            for t, c, n, g, f, r in rows]


async def _shares(
    session: AsyncSession, *, lower: datetime.datetime, upper: datetime.datetime, therapist_id: uuid.UUID | None,
) -> dict[tuple[uuid.UUID | None, str], tuple[int, int]]:
    """(therapist, currency) -> (paid out, pending) over the bookings the period's rows count."""
    from anima.domains.payments.models import BookingTransfer

    counted = (
        sa.select(PaymentRequest.booking_id)
        .where(PaymentRequest.status == "SUCCEEDED", PaymentRequest.settled_at >= lower, PaymentRequest.settled_at < upper,
               PaymentRequest.booking_id.is_not(None))
        .distinct()
    )
    paid = sa.case((BookingTransfer.status.in_(("transferred", "returned")), BookingTransfer.amount_minor - BookingTransfer.reversed_minor), else_=0)
    pending = sa.case((BookingTransfer.status == "pending", BookingTransfer.due_minor), else_=0)
    query = (
        sa.select(Booking.therapist_id, BookingTransfer.currency, sa.func.sum(paid), sa.func.sum(pending))
        .join(Booking, Booking.id == BookingTransfer.booking_id)
        .where(BookingTransfer.booking_id.in_(counted))
        .group_by(Booking.therapist_id, BookingTransfer.currency)
    )
    if therapist_id is not None:
        query = query.where(Booking.therapist_id == therapist_id)
    return {(t, c): (int(p), int(q)) for t, c, p, q in (await session.execute(query)).all()}


_AMOUNTS = ("sessions", "gross_minor", "fees_minor", "refunds_minor", "net_minor", "paid_out_minor", "pending_minor")


def totals(rows: list[EarningsRow]) -> list[EarningsRow]:
    """One row per currency (``therapist_id`` None), each the sum of that currency's rows, by currency."""
    sums: dict[str, list[int]] = {}
    for row in rows:
        acc = sums.setdefault(row.currency, [0] * len(_AMOUNTS))
        for i, name in enumerate(_AMOUNTS):
            acc[i] += getattr(row, name)
    return [EarningsRow(None, currency, *sums[currency]) for currency in sorted(sums)]


def to_csv(rows: list[EarningsRow]) -> str:
    """The rows as CSV (header first; amounts in minor units with their currency), then one
    ``total`` line per currency (:func:`totals`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["therapist_id", "currency", *_AMOUNTS])
    for r in rows:
        writer.writerow([r.therapist_id or "", r.currency, *(getattr(r, name) for name in _AMOUNTS)])
    for r in totals(rows):
        writer.writerow(["total", r.currency, *(getattr(r, name) for name in _AMOUNTS)])
    return out.getvalue()
