"""The workspace calendar over HTTP: the week per therapist and for the practice, actions, booking
for a patient from a free start, the availability editor (and its refusals), occurrences, the
private feed (made, read without patient names, regenerated, revoked), roles and CSRF."""

from __future__ import annotations

import datetime
import re

from tests.conftest import add_member
from tests.integration.booking_support import day_ahead, hold, practice, slots
from tests.integration.events_support import in_tenant
from tests.web.conftest import Browser


async def test_week_book_for_a_patient_and_actions(client, db, browser: Browser, other_browser: Browser):
    p = await practice(client, db)
    day = day_ahead(9)
    free = await slots(client, p, day)
    held = await hold(client, p, free[0]["starts_at"], p.patients[0])
    assert held.status_code == 201
    await browser.login(p.org.owner_email)
    week = await browser.get(f"/o/{p.org.slug}/calendar?week={day.isoformat()}")
    assert week.status_code == 200 and f'id="booking-{held.json()["id"]}"' in week.text and "P0" in week.text
    assert f'href="/o/{p.org.slug}/calendar"' in week.text  # in the navigation
    # confirm the hold from the week
    path = f"/o/{p.org.slug}/calendar/bookings/{held.json()['id']}/confirm"
    confirmed = await browser.submit(path, {"back": f"/o/{p.org.slug}/calendar?week={day.isoformat()}"},
                                     form_page=f"/o/{p.org.slug}/calendar?week={day.isoformat()}")
    assert confirmed.status_code == 303
    again = await browser.submit(path, {}, form_page=f"/o/{p.org.slug}/calendar")
    assert again.status_code == 409 and "CONFIRMED" in again.text
    # book for a patient from a free start
    book = await browser.get(f"/o/{p.org.slug}/calendar/book?service={p.service['id']}&week={day.isoformat()}")
    assert book.status_code == 200
    start = free[6]["starts_at"].replace("+00:00", "Z")
    form_page = f"/o/{p.org.slug}/calendar/book?service={p.service['id']}&week={day.isoformat()}&start={start}"
    page = await browser.get(form_page)
    assert page.status_code == 200 and 'name="patient_id"' in page.text
    made = await browser.submit(f"/o/{p.org.slug}/calendar/book", {"service": p.service["id"], "therapist": "", "start": start,
                                                                   "patient_id": p.patients[1], "week": day.isoformat()}, form_page=form_page)
    assert made.status_code == 303, made.text
    taken = await browser.submit(f"/o/{p.org.slug}/calendar/book", {"service": p.service["id"], "therapist": "", "start": start,
                                                                    "patient_id": p.patients[0], "week": day.isoformat()}, form_page=form_page)
    assert taken.status_code == 409
    hostile = await browser.submit(f"/o/{p.org.slug}/calendar/book", {"service": p.service["id"], "start": "2027-13-40T99:00",
                                                                      "patient_id": "x\x00"}, form_page=form_page)
    assert hostile.status_code == 422
    rows = await in_tenant(db, p.org.slug, "SELECT status FROM bookings ORDER BY starts_at")
    assert [r[0] for r in rows] == ["CONFIRMED", "CONFIRMED"]
    # a therapist sees their own calendar only, and cannot book for a patient here
    therapist_email = (await in_tenant(db, p.org.slug, "SELECT email FROM staff WHERE id = :i", {"i": p.therapist_id}))[0][0]
    await other_browser.login(therapist_email)
    own = await other_browser.get(f"/o/{p.org.slug}/calendar?week={day.isoformat()}&therapist={p.org.owner_id}")
    assert own.status_code == 200 and f'id="booking-{held.json()["id"]}"' in own.text and "Whose calendar" not in own.text
    assert (await other_browser.get(f"/o/{p.org.slug}/calendar/book")).status_code == 403
    # no CSRF token: refused
    bare = await browser.http.post(path.replace("/confirm", "/cancel"), data={})
    assert bare.status_code == 403


async def test_availability_editor_and_its_refusals(client, db, browser: Browser):
    p = await practice(client, db)
    await browser.login(p.org.owner_email)
    page_path = f"/o/{p.org.slug}/calendar/availability?therapist={p.therapist_id}"
    page = await browser.get(page_path)
    assert page.status_code == 200 and "Europe/Madrid" in page.text
    added = await browser.submit(f"/o/{p.org.slug}/calendar/availability/rules",
                                 {"therapist_id": p.therapist_id, "weekday": "2", "start_time": "18:00", "end_time": "20:00"},
                                 form_page=page_path)
    assert added.status_code == 303
    for bad in ({"start_time": "20:00", "end_time": "18:00"}, {"start_time": "25:00", "end_time": "26:00"},
                {"start_time": "18:00\x00", "end_time": "19:00"}, {"weekday": "9", "start_time": "08:00", "end_time": "09:00"}):
        refused = await browser.submit(f"/o/{p.org.slug}/calendar/availability/rules",
                                       {"therapist_id": p.therapist_id, "weekday": "2", **bad}, form_page=page_path)
        assert refused.status_code == 422, bad
    off = await browser.submit(f"/o/{p.org.slug}/calendar/availability/overrides",
                               {"therapist_id": p.therapist_id, "on_date": day_ahead(20).isoformat(), "start_time": "", "end_time": ""},
                               form_page=page_path)
    assert off.status_code == 303
    rules = await in_tenant(db, p.org.slug, "SELECT id FROM availability_rules WHERE start_time = '18:00'")
    assert len(rules) == 1
    assert await slots(client, p, day_ahead(20)) == []  # the day off
    removed = await browser.submit(f"/o/{p.org.slug}/calendar/availability/rules/{rules[0][0]}/delete", {}, form_page=page_path)
    assert removed.status_code == 303
    assert await in_tenant(db, p.org.slug, "SELECT id FROM availability_rules WHERE start_time = '18:00'") == []
    assert "No dated sessions yet" in (await browser.get(f"/o/{p.org.slug}/calendar/occurrences")).text
    retreat = await client.post(f"{p.base}/services", json={
        "name": "Retreat", "kind": "GROUP", "scheduling": "FIXED_DATE", "duration_minutes": 480, "price_minor": 30000, "currency": "EUR",
        "location": "IN_PERSON", "capacity": 2}, headers=p.org.headers)
    assert retreat.status_code == 201, retreat.text
    at = datetime.datetime.combine(day_ahead(30), datetime.time(8), tzinfo=datetime.UTC)
    occurrence = await client.post(f"{p.base}/occurrences", json={"service_id": retreat.json()["id"], "starts_at": at.isoformat(),
                                                                  "ends_at": (at + datetime.timedelta(hours=8)).isoformat(), "capacity": 1},
                                   headers=p.org.headers)
    assert occurrence.status_code == 201, occurrence.text
    oid = occurrence.json()["id"]
    assert (await client.post(f"{p.base}/occurrences/{oid}/seats", json={"patient_id": p.patients[0]}, headers=p.org.headers)).status_code == 201
    assert (await client.post(f"{p.base}/occurrences/{oid}/waitlist", json={"patient_id": p.patients[1]}, headers=p.org.headers)).status_code == 201
    listed = await browser.get(f"/o/{p.org.slug}/calendar/occurrences")
    card = re.search(rf'id="occurrence-{oid}".*?</li>\s*</ul>', listed.text, re.S).group(0)
    assert "Retreat" in card and "1 of 1 seats taken" in card and "1 waiting" in card and "P1" in card


async def test_private_feed_is_made_read_regenerated_and_revoked(client, db, browser: Browser, other_browser: Browser):
    p = await practice(client, db)
    free = await slots(client, p, day_ahead(4))
    booked = await hold(client, p, free[0]["starts_at"], p.patients[0], therapist_id=p.therapist_id)
    assert booked.status_code == 201
    therapist_email = (await in_tenant(db, p.org.slug, "SELECT email FROM staff WHERE id = :i", {"i": p.therapist_id}))[0][0]
    await browser.login(therapist_email)
    feed_page = f"/o/{p.org.slug}/calendar/feed"
    assert "You have no feed yet." in (await browser.get(feed_page)).text
    made = await browser.submit(feed_page, {"action": "issue"})
    url = re.search(r'<code class="feed-url">([^<]+)</code>', made.text).group(1)
    path = "/p/" + url.split("/p/", 1)[1]
    ics = await other_browser.get(path)
    start = datetime.datetime.fromisoformat(free[0]["starts_at"])
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert f"DTSTART:{start:%Y%m%dT%H%M%S}Z" in ics.text and "SUMMARY:Session" in ics.text and "P0" not in ics.text
    later = (await browser.get(feed_page)).text
    assert "Your feed address was made on" in later and url not in later  # shown once
    again = await browser.submit(feed_page, {"action": "issue"})
    new_path = "/p/" + re.search(r'<code class="feed-url">([^<]+)</code>', again.text).group(1).split("/p/", 1)[1]
    assert (await other_browser.get(path)).status_code == 404 and (await other_browser.get(new_path)).status_code == 200
    assert (await browser.submit(feed_page, {"action": "revoke"})).status_code == 303
    assert (await other_browser.get(new_path)).status_code == 404
    assert (await other_browser.get(f"/p/{p.org.slug}/feed/not-a-token.ics")).status_code == 404
    # an assistant has no feed page
    assistant_email, _, _ = await add_member(client, db, p.org, "ASSISTANT")
    other_browser.http.cookies.clear()
    await other_browser.login(assistant_email)
    assert (await other_browser.get(feed_page)).status_code == 403
