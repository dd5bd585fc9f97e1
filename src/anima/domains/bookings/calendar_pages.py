"""Workspace calendar pages (``/o/<slug>/calendar…``): the week, booking for a patient, the
availability editor, occurrences with seats and waitlists, and the private calendar feed.

* **Week** (every member): Monday to Sunday in the viewer's zone (named on the page), previous and
  next week; one therapist or the whole practice for owners and assistants, their own calendar for
  a therapist. Each booking shows its time, service, patient, therapist and state, with the
  actions the engine allows: confirm a hold, cancel (by the practice), completed or no-show once
  started — the engine's own checks answer a refusal, shown on the page.
* **Book** (owners and assistants): a service, a therapist or any, the week's free starts (the
  same slot search as the public), then the patient: the hold is confirmed at once.
* **Availability** (owners for anyone, a therapist their own): weekly hours and date overrides in
  the therapist's zone, which they set on their profile page.
* **Occurrences** (every member): dated sessions of fixed-date and group services, their seats
  taken, offered and free, and how many wait. Owners add a new date (the API's role for
  :func:`seats.create_occurrence`): start and end typed as local date and time in the practice's
  zone, turned into instants by the slot engine's DST rule (:func:`slots.local_instant`: a time
  skipped by the clocks is the instant they jump, a repeated one its first occurrence); a price
  override typed as a decimal of the service's currency, converted exactly by its digits
  (:func:`anima.domains.catalog.pages.price_to_minor`). Owners and assistants book a seat for a
  patient (:func:`seats.book_seat`, the API's FRONT_DESK). There is no cancel: the engine has no
  function for cancelling an occurrence.
* **Feed** (owners and therapists, their own): the secret subscription URL
  (:mod:`anima.domains.bookings.feeds`), shown once when made, regenerated or revoked here.

Every form posts to the service functions the API calls; a refusal rolls the transaction back
and shows the page again with the reason in the viewer's language.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
import sqlalchemy as sa
from babel.dates import format_time
from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Response, Template

from anima.domains.bookings import availability, feeds, seats, services, slots
from anima.domains.bookings.schemas import CancelRequest, HoldRequest, OccurrenceCreate, OverrideCreate, RuleCreate, SeatRequest
from anima.domains.catalog.pages import price_to_minor
from anima.domains.catalog.models import Scheduling, Service, ServiceKind
from anima.domains.patients.models import Patient
from anima.domains.staff.models import StaffMember
from anima.http.access import CLINICIANS, EVERY_MEMBER, FRONT_DESK, OWNERS, TenantContext
from anima.identity.models import Role
from anima.problems import Forbidden, InvalidInput, NotFound, Problem
from anima.crypto.cipher import FieldCipher
from anima.domains.gcal import freebusy
from anima.runtime import Runtime
from anima.tenancy.scope import enter_tenant
from anima.web.forms import FormState, parse, read_form
from anima.web.render import render, safe_next, see_other
from anima.web.workspace import Workspace

_Q = Annotated[str | None, Parameter(max_length=80)]
#: the most bookings one week page lists
WEEK_LIMIT = 500
#: the most patients the booking form offers (by name)
PATIENT_CHOICES = 500
ACTIONS = ("confirm", "cancel", "complete", "no-show")


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _monday(value: str | None, zone: str) -> datetime.date:
    try:
        day = datetime.date.fromisoformat(value) if value else None
    except ValueError:
        day = None
    today = datetime.datetime.now(ZoneInfo(zone)).date()
    if day is None or abs((day - today).days) > 3660:
        day = today
    return day - datetime.timedelta(days=day.weekday())


def clock(local: datetime.datetime, language: str) -> str:
    """A local start as the language writes a time (``10:00``, ``10:00 AM``), by Babel."""
    return format_time(local, "short", locale=language)


def _zone(ws: Workspace) -> str:
    try:
        return ZoneInfo(ws.time_zone).key
    except (ValueError, KeyError):
        return "UTC"


def _span(start: datetime.datetime, end: datetime.datetime, tz: ZoneInfo, language: str) -> str:
    """``09:00–09:50 CET``: a session's local times on its day, the zone's abbreviation named."""
    a, b = start.astimezone(tz), end.astimezone(tz)
    return f"{clock(a, language)}–{clock(b, language)} {a.tzname()}"


def _caller(tenant: TenantContext) -> services.Caller:
    return services.Caller(tenant.user_id, tenant.role.value)


async def _fresh(tenant: TenantContext) -> None:
    await tenant.session.rollback()
    await enter_tenant(tenant.session, tenant.tenant.id)


async def _therapists(tenant: TenantContext) -> list[tuple[uuid.UUID, str]]:
    rows = await tenant.session.execute(
        sa.select(StaffMember.id, StaffMember.display_name)
        .where(StaffMember.active.is_(True), StaffMember.role.in_((Role.OWNER.value, Role.THERAPIST.value)))
        .order_by(StaffMember.display_name, StaffMember.id))
    return [(r[0], r[1]) for r in rows]


def _chosen_therapist(tenant: TenantContext, value: str | None) -> uuid.UUID | None:
    """The therapist a page is about: a therapist is always themselves; others choose (None: all)."""
    if tenant.role == Role.THERAPIST:
        return tenant.user_id
    return _uuid(value)


# -- the week -------------------------------------------------------------------------------------


async def _week(tenant: TenantContext, ws: Workspace, week: str | None, therapist: str | None, *, message: str | None = None,
                status: int = 200) -> Template:
    zone = _zone(ws)
    monday = _monday(week, zone)
    tz = ZoneInfo(zone)
    start = datetime.datetime.combine(monday, datetime.time(0), tzinfo=tz).astimezone(datetime.UTC)
    end = datetime.datetime.combine(monday + datetime.timedelta(days=7), datetime.time(0), tzinfo=tz).astimezone(datetime.UTC)
    therapist_id = _chosen_therapist(tenant, therapist)
    rows, total = await services.list_bookings(tenant.session, tenant.role.value, tenant.user_id, limit=WEEK_LIMIT, offset=0,
                                               starts_from=start, starts_before=end, ascending=True, therapist_id=therapist_id)
    names = dict(await _therapists(tenant))
    service_names = dict((await tenant.session.execute(sa.select(Service.id, Service.name))).all())
    patient_ids = {b.patient_id for b in rows}
    patients = {}
    if patient_ids:
        patients = {r[0]: f"{r[1]} {r[2]}".strip() for r in await tenant.session.execute(
            sa.select(Patient.id, Patient.first_name, Patient.last_name).where(Patient.id.in_(patient_ids)))}
    now = services.utcnow()
    days = [(monday + datetime.timedelta(days=i), []) for i in range(7)]
    for b in rows:
        local = b.starts_at.astimezone(tz).date()
        index = (local - monday).days
        if 0 <= index < 7:
            days[index][1].append({
                "booking": b, "service": service_names.get(b.service_id, ""), "patient": patients.get(b.patient_id, ""),
                "therapist": names.get(b.therapist_id, "") if b.therapist_id else "", "started": b.starts_at <= now,
                "time": _span(b.starts_at, b.ends_at, tz, ws.language),
            })
    ws.active = "calendar"
    return render(
        "bookings/calendar_week.html", language=ws.language, time_zone=zone, ws=ws, status=status, days=days, monday=monday,
        previous=monday - datetime.timedelta(days=7), following=monday + datetime.timedelta(days=7), therapists=list(names.items()),
        therapist_id=therapist_id, total=total, message=message, zone=zone,
        own=tenant.role == Role.THERAPIST, front_desk=tenant.role in (Role.OWNER, Role.ASSISTANT),
    )


@get("/o/{org_slug:str}/calendar", opt=EVERY_MEMBER, name="bookings:calendar")
async def calendar_page(tenant: TenantContext, ws: Workspace, week: _Q = None, therapist: _Q = None) -> Template:
    """The week of one therapist (a therapist: their own) or of the whole practice."""
    return await _week(tenant, ws, week, therapist)


@post("/o/{org_slug:str}/calendar/bookings/{booking_id:uuid}/{action:str}", opt=EVERY_MEMBER, name="bookings:calendar-action")
async def booking_action(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, booking_id: uuid.UUID,
                         action: str) -> Response[Any]:
    """Confirm a hold, cancel (by the practice), or mark a started session completed or a no-show."""
    values = await read_form(request)
    back = safe_next(values.get("back"), f"{ws.base}/calendar")
    if not back.startswith(f"{ws.base}/calendar"):
        back = f"{ws.base}/calendar"
    caller = _caller(tenant)
    try:
        if action == "confirm":
            await services.confirm(tenant.session, caller, booking_id)
        elif action == "cancel":
            await services.cancel(tenant.session, caller, booking_id, CancelRequest(by="practice"), None)
        elif action == "complete":
            await services.complete(tenant.session, caller, booking_id)
        elif action == "no-show":
            await services.no_show(tenant.session, caller, booking_id)
        else:
            raise NotFound("no such action")
    except Problem as problem:
        if problem.status == 404:
            raise
        await _fresh(tenant)
        message = FormState().show(problem, ws.language).message
        return await _week(tenant, ws, values.get("week"), values.get("therapist"), message=message, status=problem.status)
    return see_other(request, back)


# -- booking for a patient ------------------------------------------------------------------------


async def _book_page(tenant: TenantContext, ws: Workspace, params: dict[str, str | None], runtime: Runtime, cipher: FieldCipher,
                     *, form: FormState | None = None,
                     status: int = 200) -> Template:
    zone = _zone(ws)
    offered = list((await tenant.session.execute(
        sa.select(Service).where(Service.active.is_(True), Service.scheduling == Scheduling.CALENDAR.value)
        .order_by(Service.name, Service.id))).scalars())
    service = next((s for s in offered if s.id == _uuid(params.get("service"))), None)
    therapists = await _therapists(tenant)
    therapist_id = _uuid(params.get("therapist"))
    monday = _monday(params.get("week"), zone)
    ctx: dict[str, Any] = {"services": offered, "service": service, "therapists": therapists, "therapist_id": therapist_id,
                           "monday": monday, "zone": zone, "days": {}, "start": None, "patients": [], "form": form or FormState()}
    if service is not None:
        start = _instant(params.get("start"))
        if start is None:
            today = datetime.datetime.now(ZoneInfo(zone)).date()
            first = max(monday, today)
            last = monday + datetime.timedelta(days=6)
            if last >= first:
                try:
                    found = await services.search(
                        tenant.session, service.id, therapist_id=therapist_id, first=first, last=last, zone=zone,
                        busy_of=freebusy.provider(tenant.session, cipher, runtime.settings, tenant.tenant.id))
                except InvalidInput:
                    found = []
                for s in found:
                    ctx["days"].setdefault(s.local_starts_at.date(), []).append((clock(s.local_starts_at, ws.language), _iso(s.starts_at)))
        else:
            ctx["start"] = start
            ctx["start_iso"] = _iso(start)
            ctx["patients"] = [(r[0], f"{r[1]} {r[2]}".strip()) for r in await tenant.session.execute(
                sa.select(Patient.id, Patient.first_name, Patient.last_name).where(Patient.archived_at.is_(None))
                .order_by(Patient.last_name, Patient.first_name, Patient.id).limit(PATIENT_CHOICES))]
    ws.active = "calendar"
    return render("bookings/calendar_book.html", language=ws.language, time_zone=zone, ws=ws, status=status,
                  previous=monday - datetime.timedelta(days=7), following=monday + datetime.timedelta(days=7), **ctx)


def _instant(value: str | None) -> datetime.datetime | None:
    try:
        parsed = datetime.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return parsed.astimezone(datetime.UTC) if parsed is not None and parsed.tzinfo is not None else None


def _iso(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@get("/o/{org_slug:str}/calendar/book", opt=FRONT_DESK, name="bookings:calendar-book")
async def book_page(tenant: TenantContext, ws: Workspace, runtime: Runtime, cipher: FieldCipher, service: _Q = None, therapist: _Q = None, week: _Q = None,
                    start: _Q = None) -> Template:
    """Book for a patient: service and therapist, the week's free starts, then the patient."""
    return await _book_page(tenant, ws, {"service": service, "therapist": therapist, "week": week, "start": start}, runtime, cipher)


@post("/o/{org_slug:str}/calendar/book", opt=FRONT_DESK, name="bookings:calendar-book-submit")
async def book_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, runtime: Runtime,
                      cipher: FieldCipher) -> Response[Any]:
    """Hold the start for the patient and confirm it (one transaction); back to the week."""
    values = await read_form(request)
    params = {k: values.get(k) for k in ("service", "therapist", "week", "start")}
    fields = {"patient_id": values.get("patient_id") or "", "service_id": values.get("service") or "",
              "starts_at": values.get("start") or ""}
    if _uuid(values.get("therapist")):
        fields["therapist_id"] = values["therapist"]
    body, form = parse(HoldRequest, fields, language=ws.language)
    if body is None:
        return await _book_page(tenant, ws, params, runtime, cipher, form=form, status=422)
    caller = _caller(tenant)
    try:
        held = await services.hold(tenant.session, caller, body)
        booking = await services.confirm(tenant.session, caller, held.id)
    except Problem as problem:
        await _fresh(tenant)
        return await _book_page(tenant, ws, params, runtime, cipher, form=form.show(problem, ws.language), status=problem.status)
    week = booking.starts_at.astimezone(ZoneInfo(_zone(ws))).date().isoformat()
    return see_other(request, f"{ws.base}/calendar?week={week}&therapist={booking.therapist_id or ''}")


# -- availability ---------------------------------------------------------------------------------


async def _availability(tenant: TenantContext, ws: Workspace, therapist: str | None, *, form: FormState | None = None,
                        status: int = 200) -> Template:
    therapist_id = _chosen_therapist(tenant, therapist) or tenant.user_id
    schedule = await availability.schedule(tenant.session, therapist_id)
    rules = sorted(await availability.list_rules(tenant.session, therapist_id), key=lambda r: (r.weekday, r.start_time))
    today = datetime.datetime.now(ZoneInfo(schedule.time_zone)).date()
    overrides = [o for o in await availability.list_overrides(tenant.session, therapist_id) if o.on_date >= today]
    service_names = dict((await tenant.session.execute(sa.select(Service.id, Service.name))).all())
    ws.active = "calendar"
    return render("bookings/calendar_availability.html", language=ws.language, time_zone=_zone(ws), ws=ws, status=status,
                  schedule=schedule, rules=rules, overrides=overrides, therapist_id=therapist_id, service_names=service_names,
                  therapists=await _therapists(tenant) if tenant.role == Role.OWNER else [], form=form or FormState())


@get("/o/{org_slug:str}/calendar/availability", opt=CLINICIANS, name="bookings:availability")
async def availability_page(tenant: TenantContext, ws: Workspace, therapist: _Q = None) -> Template:
    """Weekly hours and date overrides of a therapist (owners: anyone; a therapist: their own)."""
    return await _availability(tenant, ws, therapist)


@post("/o/{org_slug:str}/calendar/availability/{what:str}", opt=CLINICIANS, name="bookings:availability-add")
async def availability_add(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, what: str) -> Response[Any]:
    """Add weekly hours (``rules``) or a date override (``overrides``)."""
    values = await read_form(request)
    therapist = values.get("therapist_id") or str(tenant.user_id)
    if what == "rules":
        fields = {k: values.get(k, "") for k in ("therapist_id", "weekday", "start_time", "end_time", "service_id")}
        body, form = parse(RuleCreate, fields, integers=("weekday",), language=ws.language)
    elif what == "overrides":
        fields = {k: values.get(k, "") for k in ("therapist_id", "on_date", "start_time", "end_time")}
        fields["available"] = values.get("available", "")
        body, form = parse(OverrideCreate, fields, booleans=("available",), language=ws.language)
    else:
        raise NotFound("no such list")
    if body is None:
        return await _availability(tenant, ws, therapist, form=form, status=422)
    try:
        availability.may_manage(tenant.role.value, tenant.user_id, body.therapist_id)
        if what == "rules":
            await availability.add_rule(tenant.session, body)
        else:
            await availability.add_override(tenant.session, body)
    except Problem as problem:
        await _fresh(tenant)
        return await _availability(tenant, ws, therapist, form=form.show(problem, ws.language), status=problem.status)
    return see_other(request, f"{ws.base}/calendar/availability?therapist={body.therapist_id}")


@post("/o/{org_slug:str}/calendar/availability/{what:str}/{row_id:uuid}/delete", opt=CLINICIANS, name="bookings:availability-delete")
async def availability_delete(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, what: str,
                              row_id: uuid.UUID) -> Response[Any]:
    """Remove weekly hours or a date override."""
    if what == "rules":
        row: Any = await availability.get_rule(tenant.session, row_id)
    elif what == "overrides":
        row = await availability.get_override(tenant.session, row_id)
    else:
        raise NotFound("no such list")
    availability.may_manage(tenant.role.value, tenant.user_id, row.therapist_id)
    if what == "rules":
        await availability.delete_rule(tenant.session, row)
    else:
        await availability.delete_override(tenant.session, row)
    return see_other(request, f"{ws.base}/calendar/availability?therapist={row.therapist_id}")


# -- occurrences ----------------------------------------------------------------------------------


async def _occurrences(tenant: TenantContext, ws: Workspace, *, form: FormState | None = None, seat_form: FormState | None = None,
                       seat_for: uuid.UUID | None = None, status: int = 200) -> Template:
    zone = _zone(ws)
    items, total = await seats.list_occurrences(tenant.session, service_id=None, limit=200, offset=0)
    service_names = dict((await tenant.session.execute(sa.select(Service.id, Service.name))).all())
    lines = {o.id: [e for e in await seats.waitlist(tenant.session, o.id) if e.status in ("WAITING", "OFFERED")]
             for o in items if o.waiting or o.seats_offered}
    wanted = {e.patient_id for entries in lines.values() for e in entries}
    names = {}
    if wanted:
        names = {r[0]: f"{r[1]} {r[2]}".strip() for r in await tenant.session.execute(
            sa.select(Patient.id, Patient.first_name, Patient.last_name).where(Patient.id.in_(wanted)))}
    owner = tenant.role == Role.OWNER
    front_desk = tenant.role in (Role.OWNER, Role.ASSISTANT)
    offered = await _dated_services(tenant) if owner else []
    patients: list[tuple[uuid.UUID, str]] = []
    if front_desk and items:
        patients = [(r[0], f"{r[1]} {r[2]}".strip()) for r in await tenant.session.execute(
            sa.select(Patient.id, Patient.first_name, Patient.last_name).where(Patient.archived_at.is_(None))
            .order_by(Patient.last_name, Patient.first_name, Patient.id).limit(PATIENT_CHOICES))]
    ws.active = "calendar"
    return render("bookings/calendar_occurrences.html", language=ws.language, time_zone=zone, ws=ws, items=items, total=total,
                  service_names=service_names, lines=lines, names=names, status=status, zone=zone, owner=owner,
                  front_desk=front_desk, offered=[(str(s.id), f"{s.name} ({s.currency})") for s in offered], patients=patients,
                  form=form or FormState(), seat_form=seat_form or FormState(), seat_for=seat_for)


async def _dated_services(tenant: TenantContext) -> list[Service]:
    """Active services an occurrence may be of: FIXED_DATE scheduling or GROUP kind (the engine's rule)."""
    return list((await tenant.session.execute(
        sa.select(Service).where(Service.active.is_(True),
                                 sa.or_(Service.scheduling == Scheduling.FIXED_DATE.value, Service.kind == ServiceKind.GROUP.value))
        .order_by(Service.name, Service.id))).scalars())


def local_to_utc(text: str, zone: ZoneInfo) -> str:
    """A typed local ``YYYY-MM-DDTHH:MM`` in ``zone`` as a UTC ISO instant (the slot engine's DST
    rule, :func:`slots.local_instant`); anything else is returned as typed, for the schema to refuse
    by field. An offset typed with it is kept as given."""
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return text
    if parsed.tzinfo is not None:
        return text
    return _iso(slots.local_instant(parsed.date(), parsed.time(), zone))


@get("/o/{org_slug:str}/calendar/occurrences", opt=EVERY_MEMBER, name="bookings:occurrences")
async def occurrences_page(tenant: TenantContext, ws: Workspace) -> Template:
    """Dated sessions of fixed-date and group services: seats taken, offered, free, and waiting."""
    return await _occurrences(tenant, ws)


@post("/o/{org_slug:str}/calendar/occurrences", opt=OWNERS, name="bookings:occurrences-create")
async def occurrence_create(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace) -> Response[Any]:
    """A new date of a fixed-date or group service (owners, as the API): local start and end in the
    practice's zone, capacity, location, an optional price override in the service's currency."""
    values = await read_form(request)
    typed = {k: values.get(k, "") for k in ("service_id", "starts_at", "ends_at", "capacity", "location", "price")}
    tz = ZoneInfo(_zone(ws))
    fields = {k: typed[k] for k in ("service_id", "capacity", "location")}
    for key in ("starts_at", "ends_at"):
        fields[key] = local_to_utc(typed[key].strip(), tz) if isinstance(typed[key], str) else typed[key]
    body, form = parse(OccurrenceCreate, fields, integers=("capacity",), language=ws.language)
    form.values = typed
    price = typed["price"].strip() if isinstance(typed["price"], str) else ""
    minor = None
    if price:
        service = next((s for s in await _dated_services(tenant) if s.id == _uuid(typed["service_id"])), None)
        if service is not None:
            minor, sentence = price_to_minor(price, service.currency, ws.language)
            if sentence:
                form.errors["price"] = sentence
                body = None
    if body is None or form.errors:
        return await _occurrences(tenant, ws, form=form, status=422)
    if minor is not None:
        body = msgspec.structs.replace(body, price_minor=minor)
    try:
        await seats.create_occurrence(tenant.session, body)
    except Problem as problem:
        await _fresh(tenant)
        form.show(problem, ws.language)
        if "price_minor" in form.errors:
            form.errors["price"] = form.errors.pop("price_minor")
        return await _occurrences(tenant, ws, form=form, status=problem.status)
    return see_other(request, f"{ws.base}/calendar/occurrences")


@post("/o/{org_slug:str}/calendar/occurrences/{occurrence_id:uuid}/seats", opt=FRONT_DESK, name="bookings:occurrences-seat")
async def occurrence_seat(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, occurrence_id: uuid.UUID) -> Response[Any]:
    """Book a seat of an occurrence for a patient (owners and assistants, as the API); a full one says so."""
    values = await read_form(request)
    body, form = parse(SeatRequest, {"patient_id": values.get("patient_id", "")}, language=ws.language)
    if body is None:
        return await _occurrences(tenant, ws, seat_form=form, seat_for=occurrence_id, status=422)
    try:
        await seats.book_seat(tenant.session, tenant.user_id, occurrence_id, body.patient_id)
    except Problem as problem:
        await _fresh(tenant)
        return await _occurrences(tenant, ws, seat_form=form.show(problem, ws.language), seat_for=occurrence_id, status=problem.status)
    return see_other(request, f"{ws.base}/calendar/occurrences#occurrence-{occurrence_id}")


# -- the private feed -----------------------------------------------------------------------------


async def _feed_page(tenant: TenantContext, ws: Workspace, *, url: str | None = None) -> Template:
    ws.active = "calendar"
    return render("bookings/calendar_feed.html", language=ws.language, time_zone=_zone(ws), ws=ws, url=url,
                  issued=await feeds.issued_at(tenant.session, tenant.user_id))


@get("/o/{org_slug:str}/calendar/feed", opt=CLINICIANS, name="bookings:feed")
async def feed_page(tenant: TenantContext, ws: Workspace) -> Template:
    """The viewer's own private calendar feed: whether one exists, make, regenerate or revoke it."""
    return await _feed_page(tenant, ws)


@post("/o/{org_slug:str}/calendar/feed", opt=CLINICIANS, name="bookings:feed-change")
async def feed_change(request: Request[Any, Any, Any], runtime: Runtime, tenant: TenantContext, ws: Workspace) -> Response[Any]:
    """``action=issue`` makes (or replaces) the secret URL and shows it once; ``revoke`` ends it."""
    values = await read_form(request)
    if values.get("action") == "revoke":
        await feeds.revoke(tenant.session, tenant.user_id)
        return see_other(request, f"{ws.base}/calendar/feed")
    if values.get("action") != "issue":
        raise Forbidden("unknown action")
    token = await feeds.issue(tenant.session, tenant.user_id)
    url = feeds.feed_url(runtime.settings.public_url, tenant.tenant.slug, token)
    response = await _feed_page(tenant, ws, url=url)
    response.headers.update({"Cache-Control": "no-store"})
    return response


PAGE_HANDLERS: list[Any] = [
    calendar_page, booking_action, book_page, book_submit, availability_page, availability_add, availability_delete,
    occurrences_page, occurrence_create, occurrence_seat, feed_page, feed_change,
]
