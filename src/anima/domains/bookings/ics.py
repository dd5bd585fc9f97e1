"""A booking as an iCalendar file (RFC 5545): one VEVENT, built with the ``icalendar`` library.

* ``UID`` is ``<booking id>@anima`` — stable for the booking's life, so a calendar that imported
  it updates the same event after a reschedule or a cancellation (RFC 5545 §3.8.4.7).
* ``SEQUENCE`` (§3.8.7.4) grows with every revision a calendar must see: one per reschedule, one
  when a hold is confirmed, one when the booking is cancelled. It is computed from facts that
  only ever grow (``rescheduled_count``, ``confirmed_at`` set, ``cancelled_at`` set), so it never
  goes back.
* ``DTSTART``/``DTEND`` are UTC (the ``Z`` form, §3.3.5 form 2): every calendar shows the same
  instant in its own zone; ``DTSTAMP`` is when the file was made.
* ``STATUS`` (§3.8.1.11): HELD is TENTATIVE, CANCELLED and EXPIRED are CANCELLED, the rest
  CONFIRMED. ``SUMMARY`` names the service only — never the patient (the file may land in a
  calendar others see).
* ``METHOD`` (RFC 5546 §1.4): PUBLISH for a file to import; an emailed invitation is REQUEST (a
  confirmation or a reschedule: same UID, higher SEQUENCE updates the event) or CANCEL (same UID,
  higher SEQUENCE, STATUS CANCELLED: the client's calendar removes it). iTIP asks for ORGANIZER in
  both and ATTENDEE in a REQUEST/CANCEL: the organization (``organizer``) and the client.
"""

from __future__ import annotations

import datetime

from icalendar import Calendar, Event, vCalAddress

from anima.domains.bookings.models import Booking

PRODID = "-//Anima//Bookings//EN"
_STATUS = {"HELD": "TENTATIVE", "CANCELLED": "CANCELLED", "EXPIRED": "CANCELLED"}


def uid(booking: Booking) -> str:
    """The booking's stable iCalendar UID."""
    return f"{booking.id}@anima"


def sequence(booking: Booking) -> int:
    """The revision number of the booking's event (see the module docstring)."""
    return booking.rescheduled_count + (booking.confirmed_at is not None) + (booking.cancelled_at is not None)


METHODS = ("PUBLISH", "REQUEST", "CANCEL")


def _event(booking: Booking, service_name: str, location: str, now: datetime.datetime, method: str = "PUBLISH") -> Event:
    event = Event()
    event.add("uid", uid(booking))
    event.add("sequence", sequence(booking))
    event.add("dtstamp", now.astimezone(datetime.UTC))
    event.add("dtstart", booking.starts_at.astimezone(datetime.UTC))
    event.add("dtend", booking.ends_at.astimezone(datetime.UTC))
    event.add("summary", service_name)
    event.add("status", "CANCELLED" if method == "CANCEL" else _STATUS.get(booking.status, "CONFIRMED"))
    if location:
        event.add("location", location)
    return event


def _calendar(name: str | None = None, method: str = "PUBLISH") -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    if name:
        calendar.add("x-wr-calname", name)  # the name calendar applications show for a subscription
    return calendar


def booking_calendar(booking: Booking, *, service_name: str, location: str = "",
                     now: datetime.datetime | None = None, method: str = "PUBLISH",
                     organizer: tuple[str, str] | None = None, attendee: str | None = None) -> bytes:
    """The ``text/calendar`` bytes of one booking: a VCALENDAR (``method``, one of :data:`METHODS`)
    with its VEVENT. ``organizer`` is (display name, address) and ``attendee`` the client's address,
    both written only when given (an emailed REQUEST or CANCEL). Raises ValueError for another method."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    calendar = _calendar(method=method)
    event = _event(booking, service_name, location, now or datetime.datetime.now(datetime.UTC), method)
    if organizer is not None:
        event.add("organizer", vCalAddress(f"mailto:{organizer[1]}"), parameters={"cn": organizer[0]})
    if attendee is not None:
        event.add("attendee", vCalAddress(f"mailto:{attendee}"),
                  parameters={"role": "REQ-PARTICIPANT", "partstat": "ACCEPTED", "rsvp": "FALSE"})
    calendar.add_component(event)
    return calendar.to_ical()


def feed_calendar(entries: list[tuple[Booking, str, str]], *, name: str, now: datetime.datetime | None = None) -> bytes:
    """A subscription feed: one VEVENT per ``(booking, service name, location)``, the same UID
    and SEQUENCE rules as a single booking's file, so a calendar updates events in place and a
    cancelled one (STATUS:CANCELLED) is removed or struck through. ``name`` is the calendar's."""
    moment = now or datetime.datetime.now(datetime.UTC)
    calendar = _calendar(name)
    for booking, service_name, location in entries:
        calendar.add_component(_event(booking, service_name, location, moment))
    return calendar.to_ical()
