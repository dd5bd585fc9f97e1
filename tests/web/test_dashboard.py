"""The dashboard: today's bookings in the viewer's day, unread alerts, recent activity for owners only."""

from __future__ import annotations

import datetime

from anima.site.dashboard import today_bounds
from tests.conftest import add_member, signup
from tests.web.conftest import Browser


async def test_owners_see_recent_activity_and_assistants_do_not(client, db, browser: Browser, other_browser: Browser):
    org = await signup(client)
    created = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Rosa"}, headers=org.headers)
    assert created.status_code == 201
    await browser.login(org.owner_email)
    page = await browser.get(f"/o/{org.slug}/")
    assert page.status_code == 200
    assert "Recent activity" in page.text and "A person was added." in page.text
    assert "Rosa" not in page.text  # the type of event only, never who or what
    email, _, _ = await add_member(client, db, org, "ASSISTANT")
    await other_browser.login(email)
    theirs = await other_browser.get(f"/o/{org.slug}/")
    assert theirs.status_code == 200
    assert "Recent activity" not in theirs.text and "A person was added." not in theirs.text


def test_today_is_the_viewers_local_day_across_a_dst_change():
    # 2026-10-25 is 25 hours long in Madrid (clocks go back at 03:00 CEST)
    start, end = today_bounds("Europe/Madrid", now=datetime.datetime(2026, 10, 25, 12, 0, tzinfo=datetime.UTC))
    assert start == datetime.datetime(2026, 10, 24, 22, 0, tzinfo=datetime.UTC)
    assert end - start == datetime.timedelta(hours=25)
    start, end = today_bounds("Pacific/Auckland", now=datetime.datetime(2026, 11, 30, 23, 0, tzinfo=datetime.UTC))
    assert start.astimezone(datetime.UTC) == datetime.datetime(2026, 11, 30, 11, 0, tzinfo=datetime.UTC)
    assert end - start == datetime.timedelta(hours=24)


from hypothesis import given, settings, strategies as st  # noqa: E402

ZONES = ["UTC", "Europe/Madrid", "America/New_York", "America/Santiago", "Australia/Lord_Howe", "Asia/Kathmandu",
         "Pacific/Apia", "America/Havana", "Asia/Beirut", "Africa/Casablanca"]


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES),
       now=st.datetimes(min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2037, 12, 31), timezones=st.just(datetime.UTC)))
def test_today_always_holds_now_and_is_one_local_day(zone, now):
    from zoneinfo import ZoneInfo

    start, end = today_bounds(zone, now=now)
    assert start <= now < end
    local_day = now.astimezone(ZoneInfo(zone)).date()
    assert start.astimezone(ZoneInfo(zone)).date() == local_day
    assert end.astimezone(ZoneInfo(zone)).date() == local_day + datetime.timedelta(days=1)
    assert datetime.timedelta(hours=22) <= end - start <= datetime.timedelta(hours=26)
