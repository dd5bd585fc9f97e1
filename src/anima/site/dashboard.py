"""The workspace's first page: today's bookings, the viewer's unread alerts, recent activity (owners).

"Today" is the viewer's day in their own time zone. Everything is read through the domains'
service functions with the viewer's visibility (a therapist sees their own bookings, an
assistant no clinical content: alerts are addressed to clinicians only).
"""

from __future__ import annotations

import datetime
from typing import Any

from litestar import get
from litestar.response import Template

from anima.domains.automations.services import list_alerts, list_events
from anima.domains.bookings.services import list_bookings
from anima.http.access import EVERY_MEMBER, TenantContext
from anima.web.formatting import zone
from anima.web.i18n import gettext
from anima.web.problem_text import N_
from anima.web.render import render
from anima.web.workspace import Workspace


def today_bounds(time_zone: str, now: datetime.datetime | None = None) -> tuple[datetime.datetime, datetime.datetime]:
    """The viewer's current local day as a half-open UTC range (DST days are 23 or 25 hours)."""
    tz = zone(time_zone)
    local = (now or datetime.datetime.now(datetime.UTC)).astimezone(tz)
    start = datetime.datetime.combine(local.date(), datetime.time(0), tz)
    end = datetime.datetime.combine(local.date() + datetime.timedelta(days=1), datetime.time(0), tz)
    return start.astimezone(datetime.UTC), end.astimezone(datetime.UTC)


#: what each event says on the dashboard (never a clinical detail: the type only)
ACTIVITY: dict[str, str] = {
    "PATIENT_CREATED": N_("A person was added."),
    "JOURNAL_ENTRY_CREATED": N_("A journal entry was written."),
    "RISK_DETECTED_IN_NOTE": N_("A risk was detected in a note."),
    "FORM_SUBMISSION_COMPLETED": N_("A form was completed."),
    "PAYMENT_REQUESTED": N_("A payment was requested."),
    "PAYMENT_SUCCEEDED": N_("A payment succeeded."),
    "PAYMENT_FAILED": N_("A payment failed."),
    "BOOKING_CONFIRMED": N_("A booking was confirmed."),
    "BOOKING_COMPLETED": N_("A session took place."),
    "BOOKING_CANCELLED": N_("A booking was cancelled."),
    "BOOKING_HELD": N_("A time was held for a booking."),
    "BOOKING_RESCHEDULED": N_("A booking was moved to another time."),
    "BOOKING_NO_SHOW": N_("Someone did not come to a session."),
    "WAITLIST_OFFERED": N_("A freed seat was offered to the waitlist."),
    "JOURNEY_STAGE_TIMEOUT": N_("Someone stayed too long in a journey stage."),
    "AI_ANALYSIS_REQUESTED": N_("An AI analysis was requested."),
}
_OTHER_ACTIVITY = N_("Something happened in the workspace.")


@get("/o/{org_slug:str}/", opt=EVERY_MEMBER, name="web:dashboard")
async def dashboard_page(tenant: TenantContext, ws: Workspace) -> Template:
    """Today's bookings, unread alerts and the organization's latest activity."""
    start, end = today_bounds(ws.time_zone)
    bookings, _ = await list_bookings(
        tenant.session, ws.role, ws.user_id, limit=20, offset=0, starts_from=start, starts_before=end, ascending=True
    )
    alerts, unread = await list_alerts(tenant.session, ws.user_id, limit=5, offset=0, unread=True)
    activity: list[tuple[datetime.datetime, str]] = []
    if ws.is_owner:  # the organization's events are the owners' (as GET …/events is)
        events, _ = await list_events(tenant.session, limit=8, offset=0)
        activity = [
            (e.occurred_at, gettext(ws.language, ACTIVITY.get(e.type, _OTHER_ACTIVITY)))
            for e in events
        ]
    return render(
        "web/dashboard.html", language=ws.language, time_zone=ws.time_zone, ws=ws,
        bookings=bookings, alerts=alerts, unread=unread, activity=activity,
    )


PAGE_HANDLERS: list[Any] = [dashboard_page]
