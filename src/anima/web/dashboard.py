"""The workspace's first page: today's bookings, the viewer's unread alerts, recent activity.

"Today" is the viewer's day in their own time zone. Everything is read through the domains'
service functions with the viewer's visibility (a therapist sees their own bookings, an
assistant no clinical content: alerts are addressed to clinicians only).
"""

from __future__ import annotations

import datetime
from typing import Any

from litestar import get
from litestar.response import Template

from anima.domains.automations.services import list_alerts
from anima.domains.bookings.services import list_bookings
from anima.http.access import EVERY_MEMBER, TenantContext
from anima.web.formatting import zone
from anima.web.render import render
from anima.web.workspace import Workspace


def today_bounds(time_zone: str, now: datetime.datetime | None = None) -> tuple[datetime.datetime, datetime.datetime]:
    """The viewer's current local day as a half-open UTC range (DST days are 23 or 25 hours)."""
    tz = zone(time_zone)
    local = (now or datetime.datetime.now(datetime.UTC)).astimezone(tz)
    start = datetime.datetime.combine(local.date(), datetime.time(0), tz)
    end = datetime.datetime.combine(local.date() + datetime.timedelta(days=1), datetime.time(0), tz)
    return start.astimezone(datetime.UTC), end.astimezone(datetime.UTC)


@get("/o/{org_slug:str}/", opt=EVERY_MEMBER, name="web:dashboard")
async def dashboard_page(tenant: TenantContext, ws: Workspace) -> Template:
    """Today's bookings, unread alerts and the organization's latest activity."""
    start, end = today_bounds(ws.time_zone)
    bookings, _ = await list_bookings(
        tenant.session, ws.role, ws.user_id, limit=20, offset=0, starts_from=start, starts_before=end, ascending=True
    )
    alerts, unread = await list_alerts(tenant.session, ws.user_id, limit=5, offset=0, unread=True)
    return render(
        "web/dashboard.html", language=ws.language, time_zone=ws.time_zone, ws=ws,
        bookings=bookings, alerts=alerts, unread=unread,
    )


PAGE_HANDLERS: list[Any] = [dashboard_page]
