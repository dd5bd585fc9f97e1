"""A booking's iCalendar file (RFC 5545): stable UID, growing SEQUENCE, UTC times, no patient."""

from __future__ import annotations

import datetime
import uuid

from icalendar import Calendar

from anima.domains.bookings.ics import booking_calendar
from anima.domains.bookings.models import Booking

UTC = datetime.UTC


def _event(booking: Booking) -> tuple[Calendar, object]:
    calendar = Calendar.from_ical(booking_calendar(booking, service_name="Individual therapy", location="Room 2"))
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def test_uid_is_stable_and_sequence_grows_with_each_revision():
    start = datetime.datetime(2027, 3, 20, 14, tzinfo=UTC)
    booking = Booking(id=uuid.uuid4(), patient_id=uuid.uuid4(), service_id=uuid.uuid4(), starts_at=start,
                      ends_at=start + datetime.timedelta(minutes=50), status="HELD", rescheduled_count=0)
    calendar, held = _event(booking)
    assert calendar["version"] == "2.0" and calendar["method"] == "PUBLISH"
    assert str(held["uid"]) == f"{booking.id}@anima" and held["sequence"] == 0 and str(held["status"]) == "TENTATIVE"
    # 15:00 Madrid = 10:00 New York = 14:00 UTC, written in UTC so every calendar shows the same instant
    assert held.decoded("dtstart") == start and b"DTSTART:20270320T140000Z" in booking_calendar(booking, service_name="x")
    sequences = [0]
    booking.status, booking.confirmed_at = "CONFIRMED", start - datetime.timedelta(days=3)
    sequences.append(_event(booking)[1]["sequence"])
    booking.starts_at, booking.ends_at, booking.rescheduled_count = start + datetime.timedelta(days=1), start + datetime.timedelta(days=1, minutes=50), 1
    moved = _event(booking)[1]
    sequences.append(moved["sequence"])
    booking.status, booking.cancelled_at = "CANCELLED", start - datetime.timedelta(days=1)
    cancelled = _event(booking)[1]
    sequences.append(cancelled["sequence"])
    assert sequences == sorted(set(sequences)) == [0, 1, 2, 3]
    assert {str(e["uid"]) for e in (held, moved, cancelled)} == {f"{booking.id}@anima"}
    assert str(cancelled["status"]) == "CANCELLED" and str(moved["location"]) == "Room 2"
    assert str(moved["summary"]) == "Individual therapy"
