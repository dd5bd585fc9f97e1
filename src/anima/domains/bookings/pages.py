"""Public booking pages: the self-booking wizard and manage-by-link, per organization, no account.

``/p/<slug>/book/`` is a wizard of plain links and one form, one decision per screen (nothing
depends on script): service → therapist (or any) → date and time → details and confirmation.
Steps are ``GET`` query parameters (``service``, ``therapist``, ``zone``, ``from``, ``start``);
an unknown or malformed value sends the client back to the step that asks for it. Times are
shown in the client's zone, chosen in a zone select (default: the organization's zone), with the
zone named, and beside them in the therapist's zone when it differs. The public sees only free
starts (:func:`anima.domains.bookings.services.search`), never who booked.

``POST /p/<slug>/book/`` books through :func:`anima.domains.bookings.public.self_book`,
rate-limited per client address (``book:address``) and with a honeypot field (``website``: a
person never fills it; a filled one is answered like a success and nothing is written). A refusal
rolls the transaction back (nothing half-written) and shows the form again as typed; a blocked
client learns only that online booking is unavailable.

The confirmation email is the booking's own change notice (:mod:`anima.domains.bookings.reminders`,
written in the booking's transaction like every confirmation): the client's email in their
language with the iCalendar invite and the manage link (:func:`anima.domains.bookings.links.manage_url`).

``/p/<slug>/b/<token>`` (:mod:`anima.domains.bookings.links`) shows the booking, the cancellation
policy and any fee before cancelling (through the engine as a cancellation by the client, so a late
fee is recorded once), other free starts of the same therapist to move to, and the ``.ics`` file.
The link stops changing anything once the session has started. Token pages answer with
``Cache-Control: no-store`` and ``Referrer-Policy: no-referrer``.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.bookings import calendar_pages, confirm_pages, feeds, links, payment_pages, policies, public, services
from anima.domains.packages import booking_credits
from anima.domains.payments import booking_checkout
from anima.domains.bookings.calendar_pages import clock
from anima.domains.bookings.ics import booking_calendar
from anima.domains.bookings.models import Booking
from anima.domains.bookings.schemas import CancelRequest, RescheduleRequest
from anima.domains.catalog.models import Service
from anima.domains.settings.services import get_settings
from anima.domains.staff.models import StaffMember
from anima.http.access import client_address
from anima.identity.profile import iana_zones, zone_groups
from anima.problems import InvalidInput, NotFound, Problem
from anima.domains.gcal import freebusy
from anima.runtime import Runtime
from anima.tenancy.scope import ScopedTenant, enter_by_slug
from anima.web import formatting, i18n
from anima.web.forms import FormState, parse, read_form
from anima.web.render import render, see_other

#: headers of every page that carries a manage token in its address
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
#: the honeypot field of the details form
HONEYPOT = "website"
#: days of free starts shown at once
WEEK = 7
_TEXT = Annotated[str | None, Parameter(max_length=80)]


@dataclass
class Practice:
    """The organization a public page belongs to, with its language and zone."""

    tenant: ScopedTenant
    language: str
    zone: str


async def _practice(request: Request[Any, Any, Any], session: AsyncSession, slug: str) -> Practice:
    """Enter the organization ``slug``; raises NotFound unless it is active."""
    scoped = await enter_by_slug(session, slug[:64])
    if scoped is None:
        raise NotFound("organization not found")
    settings = await get_settings(session)
    language = i18n.pick_language(request.cookies.get(i18n.LANGUAGE_COOKIE), settings.locale,
                                  i18n.from_accept_language(request.headers.get("accept-language")))
    return Practice(scoped, language, settings.timezone or "UTC")


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _zone(value: str | None, default: str) -> str:
    return value if value and value in iana_zones() else default


def _date(value: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _instant(value: str | None) -> datetime.datetime | None:
    try:
        parsed = datetime.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return parsed.astimezone(datetime.UTC) if parsed is not None and parsed.tzinfo is not None else None


def _iso(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Moment:
    """An instant as the client reads it, and in the therapist's zone (else the practice's, while
    "any therapist" is chosen) when that zone differs from the client's."""

    iso: str
    client: str
    therapist: str | None
    practice: str | None


async def _moment(session: AsyncSession, value: datetime.datetime, therapist_id: uuid.UUID | None, language: str,
                  zone: str, practice_zone: str) -> Moment:
    other = practice_zone
    if therapist_id is not None:
        other = (await services.availability.therapist_zone(session, therapist_id))[0].key

    def shown(key: str) -> str:
        return formatting.instant(value, language, key, style="full") + f" ({key.replace('_', ' ')})"

    local = shown(other) if other != zone else None
    return Moment(_iso(value), shown(zone), local if therapist_id is not None else None, local if therapist_id is None else None)


async def _therapist_name(session: AsyncSession, therapist_id: uuid.UUID | None) -> str | None:
    staff = await session.get(StaffMember, therapist_id) if therapist_id else None
    return staff.display_name if staff else None


# -- the wizard -----------------------------------------------------------------------------------


def _google_busy(runtime: Runtime, session: AsyncSession, practice: Practice) -> services.BusyOf:
    """The therapists' Google Calendar busy times for this practice's slot searches (none when
    Google Calendar is off or a therapist has not connected it)."""
    return freebusy.provider_for(session, runtime.keyring, runtime.settings, practice.tenant.id)


async def _wizard(request: Request[Any, Any, Any], session: AsyncSession, practice: Practice, params: dict[str, str | None],
                  runtime: Runtime, *, form: FormState | None = None, status: int = 200, unavailable: bool = False,
                  pay_on: bool = False) -> Template:
    slug, language = practice.tenant.slug, practice.language
    zone = _zone(params.get("zone"), practice.zone)
    base = {"language": language, "time_zone": zone, "status": status, "practice": practice, "zone": zone,
            "base": f"/p/{slug}/book/"}
    if unavailable:
        return render("bookings/public_unavailable.html", **base)
    offered = await public.public_services(session)
    service = next((s for s in offered if s.id == _uuid(params.get("service"))), None)
    if service is None:
        return render("bookings/public_services.html", services=offered, **base)
    therapists = await public.public_therapists(session, service.id)
    therapist_param = params.get("therapist")
    therapist_id = _uuid(therapist_param)
    if therapist_param != "any" and therapist_id not in {t for t, _ in therapists}:
        return render("bookings/public_therapists.html", service=service, therapists=therapists, **base)
    step = {"service": str(service.id), "therapist": "any" if therapist_id is None else str(therapist_id), "zone": zone}
    therapist_name = dict(therapists).get(therapist_id) if therapist_id else None
    start = _instant(params.get("start"))
    if start is None:
        today = datetime.datetime.now(ZoneInfo(zone)).date()
        first = _date(params.get("from")) or today
        first = min(max(first, today), today + datetime.timedelta(days=service.horizon_days))
        slots = await services.search(session, service.id, therapist_id=therapist_id, first=first,
                                      last=first + datetime.timedelta(days=WEEK - 1), zone=zone,
                                      busy_of=_google_busy(runtime, session, practice))
        days: dict[datetime.date, list[Any]] = {}
        for s in slots:
            days.setdefault(s.local_starts_at.date(), []).append((clock(s.local_starts_at, practice.language), _iso(s.starts_at)))
        previous = first - datetime.timedelta(days=WEEK) if first > today else None
        following = first + datetime.timedelta(days=WEEK)
        return render("bookings/public_slots.html", service=service, therapist_name=therapist_name, step=step, days=days,
                      first=first, last=first + datetime.timedelta(days=WEEK - 1), previous=previous, following=following,
                      zones=zone_groups(zone), form_state=FormState(), **base)
    moment = await _moment(session, start, therapist_id, language, zone, practice.zone)
    form = form or FormState(values={"time_zone": zone})
    return render("bookings/public_details.html", service=service, therapist_name=therapist_name, step=step, moment=moment,
                  form=form, zones=zone_groups(str(form.value("time_zone")) or zone),
                  pay=await payment_pages.pay_terms(session, service, pay_on),
                  package_note=await booking_credits.packages_cover(session, service.id), **base)


@get("/p/{slug:str}/book", name="bookings:public-wizard", include_in_schema=False)
async def wizard_page(
    request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, slug: str, service: _TEXT = None, therapist: _TEXT = None,
    zone: _TEXT = None, from_: Annotated[str | None, Parameter(query="from", max_length=20)] = None, start: _TEXT = None,
) -> Template:
    """The wizard's step the query reaches (see the module docstring)."""
    pay_on = await booking_checkout.payments_on(db_session, runtime.settings, slug)
    practice = await _practice(request, db_session, slug)
    params = {"service": service, "therapist": therapist, "zone": zone, "from": from_, "start": start}
    return await _wizard(request, db_session, practice, params, runtime, pay_on=pay_on)


@post("/p/{slug:str}/book", name="bookings:public-book", include_in_schema=False)
async def book_submit(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, slug: str) -> Response[Any]:
    """Book the chosen start for the client; on success the manage page opens (or, for a service
    paid online while the practice takes card payments, the pay link to Checkout)."""
    pay_on = await booking_checkout.payments_on(db_session, runtime.settings, slug)
    practice = await _practice(request, db_session, slug)
    values = await read_form(request)
    params = {k: values.get(k) for k in ("service", "therapist", "zone", "start")}
    if str(values.pop(HONEYPOT, "") or "").strip():
        return render("bookings/public_received.html", language=practice.language, practice=practice)
    typed = {k: values.get(k) for k in ("first_name", "last_name", "email", "phone", "time_zone") if values.get(k) is not None}
    fields = {**typed, "service_id": values.get("service") or "", "starts_at": values.get("start") or "",
              "language": practice.language, "consent": values.get("consent") or ""}
    if values.get("therapist") and values.get("therapist") != "any":
        fields["therapist_id"] = values["therapist"]
    body, form = parse(public.SelfBooking, fields, booleans=("consent",), language=practice.language)
    form.values = {**typed, "consent": "consent" if values.get("consent") else "", "save_card": "1" if values.get("save_card") else ""}
    if body is None:
        return await _wizard(request, db_session, practice, params, runtime, form=form, status=422, pay_on=pay_on)
    chosen = await db_session.get(Service, body.service_id)
    pay_now = pay_on and chosen is not None and booking_checkout.due_for(chosen) > 0
    address = client_address(request)
    try:
        await runtime.rate_limiter.hit("book", "address", address)
        cipher = FieldCipher(runtime.keyring, db_session, practice.tenant.id)
        booking = await public.self_book(db_session, cipher, body, tenant_id=practice.tenant.id, tier=practice.tenant.tier,
                                         client_address=address, pay_minutes=booking_checkout.HOLD_MINUTES if pay_now else None)
        pay_now = pay_now and booking.status == "HELD"  # not when a package credit paid for it
        if pay_now:
            assert chosen is not None
            payment = await booking_checkout.start(db_session, booking, chosen, save_card=bool(values.get("save_card")))
    except Problem as problem:
        await db_session.rollback()
        practice = await _practice(request, db_session, slug)
        if problem.extra.get("reason") == public.UNAVAILABLE:
            return await _wizard(request, db_session, practice, params, runtime, status=problem.status, unavailable=True)
        if problem.kind == "plan-limit-reached":
            return await _wizard(request, db_session, practice, params, runtime, status=problem.status, unavailable=True)
        return await _wizard(request, db_session, practice, params, runtime, form=form.show(problem, practice.language),
                             status=problem.status, pay_on=pay_on)
    await db_session.commit()
    if pay_now:  # to Checkout through the pay link (which answers 303 to Stripe)
        return _private(see_other(request, f"/api/v1/pay/{practice.tenant.slug}/{payment.pay_token}"))
    settings = runtime.settings
    path = links.manage_path(settings.secret_key, practice.tenant.slug, practice.tenant.id, booking.id)
    return _private(see_other(request, f"{path}?booked=1&zone={quote(body.time_zone)}"))


# -- manage by link -------------------------------------------------------------------------------


def _private(response: Any) -> Any:
    response.headers.update(PRIVATE)
    return response


async def _booking(runtime: Runtime, session: AsyncSession, practice: Practice, token: str) -> Booking:
    booking_id = links.booking_of(runtime.settings.secret_key, practice.tenant.id, token)
    booking = await session.get(Booking, booking_id) if booking_id else None
    if booking is None or booking.occurrence_id is not None:
        raise NotFound("this booking link is not valid")
    return booking


async def _manage(request: Request[Any, Any, Any], runtime: Runtime, session: AsyncSession, practice: Practice, token: str,
                  *, zone: str | None, message: str | None = None, status: int = 200, booked: bool = False) -> Template:
    booking = await _booking(runtime, session, practice, token)
    now = services.utcnow()
    zone = _zone(zone, await public.client_zone(session, booking, practice.zone))
    service = await session.get(Service, booking.service_id)
    assert service is not None
    policy = await policies.policy_for(session, service.id)
    late = policy is not None and booking.starts_at - now < datetime.timedelta(hours=policy.window_hours)
    usable = links.usable(booking, now)
    alternatives: dict[datetime.date, list[Any]] = {}
    if usable and booking.therapist_id is not None and booking.status == "CONFIRMED":
        first = now.astimezone(ZoneInfo(zone)).date()
        try:
            found = await services.search(session, service.id, therapist_id=booking.therapist_id, first=first,
                                          last=first + datetime.timedelta(days=WEEK - 1), zone=zone,
                                          busy_of=_google_busy(runtime, session, practice))
        except InvalidInput:
            found = []  # the service or the therapist no longer offers new times: cancelling still works
        for s in found:
            alternatives.setdefault(s.local_starts_at.date(), []).append((clock(s.local_starts_at, practice.language), _iso(s.starts_at)))
    return _private(render(
        "bookings/manage.html", language=practice.language, time_zone=zone, status=status, practice=practice, booking=booking,
        service=service, moment=await _moment(session, booking.starts_at, booking.therapist_id, practice.language, zone, practice.zone),
        therapist_name=await _therapist_name(session, booking.therapist_id), policy=policy, late=late, usable=usable,
        alternatives=alternatives, token=token, zone=zone, zones=zone_groups(zone), message=message, booked=booked,
        credit=(await booking_credits.coverage(session, [booking.id])).get(booking.id),
        base=f"/p/{practice.tenant.slug}/b/{token}",
    ))


@get("/p/{slug:str}/b/{token:str}", name="bookings:manage", include_in_schema=False)
async def manage_page(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, slug: str, token: str,
                      zone: _TEXT = None, booked: _TEXT = None) -> Template:
    """The booking the link opens: when, with whom, the policy, cancel, move, the calendar file."""
    practice = await _practice(request, db_session, slug)
    return await _manage(request, runtime, db_session, practice, token, zone=zone, booked=booked == "1")


async def _change(request: Request[Any, Any, Any], runtime: Runtime, session: AsyncSession, slug: str, token: str,
                  action: str) -> Response[Any]:
    practice = await _practice(request, session, slug)
    booking = await _booking(runtime, session, practice, token)
    values = await read_form(request)
    zone = _zone(values.get("zone"), practice.zone)
    try:
        if not links.usable(booking, services.utcnow()):
            raise InvalidInput.field("token", "started", "this booking can no longer be changed online")
        if action == "cancel":
            await services.cancel(session, public.PUBLIC_CALLER, booking.id, CancelRequest(by="client"), None)
        else:
            start = _instant(values.get("start"))
            if start is None:
                raise InvalidInput.field("starts_at", "required", "choose a new time")
            await services.reschedule(session, public.PUBLIC_CALLER, booking.id, RescheduleRequest(starts_at=start))
    except Problem as problem:
        await session.rollback()
        practice = await _practice(request, session, slug)
        message = FormState().show(problem, practice.language).message
        return await _manage(request, runtime, session, practice, token, zone=zone, message=message, status=problem.status)
    return _private(see_other(request, f"/p/{practice.tenant.slug}/b/{token}?zone={quote(zone)}"))


@post("/p/{slug:str}/b/{token:str}/cancel", name="bookings:manage-cancel", include_in_schema=False)
async def cancel_submit(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, slug: str,
                        token: str) -> Response[Any]:
    """Cancel as the client (the policy's late fee recorded once)."""
    return await _change(request, runtime, db_session, slug, token, "cancel")


@post("/p/{slug:str}/b/{token:str}/move", name="bookings:manage-move", include_in_schema=False)
async def move_submit(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, slug: str,
                      token: str) -> Response[Any]:
    """Move the booking to another free start of the same therapist."""
    return await _change(request, runtime, db_session, slug, token, "move")


@get("/p/{slug:str}/b/{token:str}/booking.ics", name="bookings:manage-ics", include_in_schema=False)
async def manage_ics(request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, slug: str,
                     token: str) -> Response[bytes]:
    """The booking as an RFC 5545 file (UTC instants: every calendar shows the same moment)."""
    practice = await _practice(request, db_session, slug)
    booking = await _booking(runtime, db_session, practice, token)
    service = await db_session.get(Service, booking.service_id)
    assert service is not None
    body = booking_calendar(booking, service_name=service.name, location=service.location_detail)
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={**PRIVATE, "Content-Disposition": 'attachment; filename="booking.ics"'})


@get("/p/{slug:str}/feed/{token:str}", name="bookings:feed-ics", include_in_schema=False)
async def feed_ics(request: Request[Any, Any, Any], db_session: AsyncSession, slug: str, token: str) -> Response[bytes]:
    """A therapist's private calendar feed (:mod:`anima.domains.bookings.feeds`): 404 once revoked."""
    practice = await _practice(request, db_session, slug)
    therapist_id = await feeds.therapist_of(db_session, token.removesuffix(".ics"))
    if therapist_id is None:
        raise NotFound("this calendar feed is not valid")
    body = await feeds.feed(db_session, therapist_id, name=practice.tenant.name)
    return Response(body, media_type="text/calendar; charset=utf-8", headers=PRIVATE)


PAGE_HANDLERS: list[Any] = [
    wizard_page, book_submit, manage_page, cancel_submit, move_submit, manage_ics, feed_ics, *calendar_pages.PAGE_HANDLERS,
    *confirm_pages.PAGE_HANDLERS, *payment_pages.PAGE_HANDLERS,
]
