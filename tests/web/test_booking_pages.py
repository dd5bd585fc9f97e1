"""The public booking pages over HTTP: the wizard step by step, a new client (a lead converted into
a patient), an existing patient linked by email, a blocked patient, the patient limit, the honeypot,
hostile input, and manage-by-link: policy shown, late cancel charged once, moving, a started
session's link, a forged token, the .ics file."""

from __future__ import annotations

import datetime
import re
import uuid
from urllib.parse import quote

from sqlalchemy import text

from anima.domains.bookings import links
from tests.integration.booking_support import UTC, day_ahead, practice, slots
from tests.integration.events_support import in_tenant
from tests.web.conftest import Browser


def _details(service_id: str, start: str, **extra: str) -> dict[str, str]:
    return {"service": service_id, "therapist": "any", "zone": "Europe/Madrid", "start": start, "first_name": "Lía",
            "last_name": "Serra", "email": "lia@example.org", "phone": "", "time_zone": "Europe/Madrid", "consent": "1",
            "website": "", **extra}


async def _book(browser: Browser, slug: str, data: dict[str, str]):
    form_page = f"/p/{slug}/book?service={data['service']}&therapist={data['therapist']}&zone={quote(data['zone'])}&start={quote(data['start'])}"
    return await browser.submit(f"/p/{slug}/book", data, form_page=form_page)


async def test_a_new_client_books_through_the_wizard_and_manages_by_link(client, db, browser: Browser):
    p = await practice(client, db)
    slug, service_id = p.org.slug, p.service["id"]
    home = await browser.get(f"/p/{slug}/book")
    assert home.status_code == 200 and "Session" in home.text and f"service={service_id}" in home.text
    who = await browser.get(f"/p/{slug}/book?service={service_id}")
    assert who.status_code == 200 and "therapist=any" in who.text and f"therapist={p.therapist_id}" in who.text
    day = day_ahead(10)
    week = await browser.get(f"/p/{slug}/book?service={service_id}&therapist=any&zone=America/New_York&from={day.isoformat()}")
    assert week.status_code == 200 and "America/New York" in week.text
    free = await slots(client, p, day)
    start = free[2]["starts_at"].replace("+00:00", "Z")
    assert quote(start) in week.text or start in week.text
    details = await browser.get(f"/p/{slug}/book?service={service_id}&therapist=any&zone=Europe/Madrid&start={quote(start)}")
    assert details.status_code == 200 and 'name="consent"' in details.text

    no_consent = await _book(browser, slug, _details(service_id, start, consent=""))
    assert no_consent.status_code == 422 and 'id="e-consent"' in no_consent.text and 'value="Lía"' in no_consent.text
    booked = await _book(browser, slug, _details(service_id, start))
    assert booked.status_code == 303, booked.text
    location = booked.headers["location"]
    assert re.match(rf"^/p/{slug}/b/[A-Za-z0-9_-]{{54}}\?booked=1", location)
    rows = await in_tenant(db, slug, "SELECT b.status, l.source, l.stage, b.created_by FROM bookings b JOIN leads l ON l.patient_id = b.patient_id")
    assert [tuple(r) for r in rows] == [("CONFIRMED", "BOOKING", "CONVERTED", None)]
    # the slot is gone for the next visitor
    assert start not in {s["starts_at"].replace("+00:00", "Z") for s in await slots(client, p, day)}
    # the confirmation (with its invite and this manage link) is the booking's change notice, due now,
    # which the tenant tick turns into the client's email; nothing goes through the platform's outbox
    notices = await in_tenant(db, slug, "SELECT kind FROM booking_notices WHERE due_at <= now()")
    assert ("change",) in [tuple(n) for n in notices]
    assert await in_tenant(db, slug, "SELECT count(*) FROM platform.email_outbox WHERE kind = 'booking-confirmation'") == [(0,)]
    manage = await browser.get(location)
    assert manage.status_code == 200 and "Your booking is confirmed" in manage.text and manage.headers["cache-control"] == "no-store"
    assert "Cancelling is free." in manage.text
    ics = await browser.get(location.split("?")[0] + "/booking.ics")
    start_at = datetime.datetime.fromisoformat(start)
    assert ics.status_code == 200 and f"DTSTART:{start_at:%Y%m%dT%H%M%S}Z" in ics.text and "Lía" not in ics.text

    # moving to another free start of the same therapist
    path = location.split("?")[0]
    other = free[8]["starts_at"].replace("+00:00", "Z")
    moved = await browser.submit(f"{path}/move", {"start": other, "zone": "Europe/Madrid"}, form_page=path)
    assert moved.status_code == 303, moved.text
    rows = await in_tenant(db, slug, "SELECT starts_at, rescheduled_count FROM bookings")
    assert rows[0][0] == datetime.datetime.fromisoformat(other) and rows[0][1] == 1

    # the same email again: linked to the patient, no second lead
    second = free[12]["starts_at"].replace("+00:00", "Z")
    again = await _book(browser, slug, _details(service_id, second, first_name="Someone else"))
    assert again.status_code == 303, again.text
    rows = await in_tenant(db, slug, "SELECT count(DISTINCT patient_id), count(*) FROM bookings")
    assert tuple(rows[0]) == (1, 2)
    assert (await in_tenant(db, slug, "SELECT count(*) FROM leads"))[0][0] == 1

    # cancelling by the link: the client cancels; nothing to charge without a policy
    cancelled = await browser.submit(f"{path}/cancel", {"zone": "Europe/Madrid"}, form_page=path)
    assert cancelled.status_code == 303
    rows = await in_tenant(db, slug, "SELECT status, cancelled_by_kind FROM bookings WHERE starts_at = :s",
                           {"s": datetime.datetime.fromisoformat(other)})
    assert tuple(rows[0]) == ("CANCELLED", "client")
    after = await browser.get(path)
    assert after.status_code == 200 and "Cancel this booking" not in after.text


async def test_late_cancel_by_link_shows_the_fee_first_and_charges_once(client, db, browser: Browser):
    p = await practice(client, db)
    policy = await client.put(f"{p.base}/cancellation-policies/organization", json={"window_hours": 240, "late_cancel_kind": "FIXED",
                                                                     "late_cancel_value": 2500, "no_show_kind": "NONE", "no_show_value": 0},
                              headers=p.org.headers)
    assert policy.status_code == 200, policy.text
    start = (await slots(client, p, day_ahead(5)))[0]["starts_at"].replace("+00:00", "Z")
    booked = await _book(browser, p.org.slug, _details(p.service["id"], start))
    path = booked.headers["location"].split("?")[0]
    page = await browser.get(path)
    assert "€25.00" in page.text and "cancelling now records this fee" in page.text
    token = await browser.csrf(path)
    first = await browser.http.post(f"{path}/cancel", data={"_csrf_token": token, "zone": "Europe/Madrid"})
    second = await browser.http.post(f"{path}/cancel", data={"_csrf_token": token, "zone": "Europe/Madrid"})
    assert first.status_code == 303 and second.status_code == 422
    rows = await in_tenant(db, p.org.slug, "SELECT reason, amount_minor, currency FROM booking_charges")
    assert [tuple(r) for r in rows] == [("LATE_CANCEL", 2500, "EUR")]


async def test_forged_and_started_links_change_nothing(client, db, browser: Browser):
    p = await practice(client, db)
    start = (await slots(client, p, day_ahead(3)))[0]["starts_at"].replace("+00:00", "Z")
    booked = await _book(browser, p.org.slug, _details(p.service["id"], start))
    path = booked.headers["location"].split("?")[0]
    token = path.rsplit("/", 1)[1]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert (await browser.get(f"/p/{p.org.slug}/b/{forged}")).status_code == 404
    assert (await browser.get(f"/p/{p.org.slug}/b/short")).status_code == 404
    assert (await browser.get(f"/p/{p.org.slug}/b/{token}%00")).status_code in (404, 422)
    # a service no longer offered: the link still shows the booking and lets the client cancel
    off = await client.patch(f"{p.base}/services/{p.service['id']}", json={"active": False}, headers=p.org.headers)
    assert off.status_code == 200, off.text
    still = await browser.get(path)
    assert still.status_code == 200 and "Cancel this booking" in still.text
    # the session starts: the link shows it but changes nothing
    csrf = await browser.csrf(path)
    await in_tenant(db, p.org.slug, "UPDATE bookings SET starts_at = now() - interval '5 minutes', ends_at = now() + interval '45 minutes', "
                    "blocked_from = now() - interval '15 minutes', blocked_until = now() + interval '55 minutes'")
    page = await browser.get(path)
    assert page.status_code == 200 and "can no longer be changed online" in page.text and "Cancel this booking" not in page.text
    refused = await browser.http.post(f"{path}/cancel", data={"_csrf_token": csrf})
    assert refused.status_code == 422
    assert (await in_tenant(db, p.org.slug, "SELECT status FROM bookings"))[0][0] == "CONFIRMED"


async def test_blocked_patient_limit_honeypot_and_hostile_input(client, db, browser: Browser):
    p = await practice(client, db, tier="BUILDER", patients=0)
    slug, service_id = p.org.slug, p.service["id"]
    free = await slots(client, p, day_ahead(6))
    start = free[0]["starts_at"].replace("+00:00", "Z")
    # the honeypot: answered, nothing written
    trap = await _book(browser, slug, _details(service_id, start, website="http://spam.example"))
    assert trap.status_code == 200 and (await in_tenant(db, slug, "SELECT count(*) FROM leads"))[0][0] == 0
    # hostile input: NUL, a huge name, a naive instant, a made-up zone, a wrong service id
    for bad, field in (({"first_name": "A\x00B"}, "first_name"), ({"first_name": "x" * 5000}, "first_name"),
                       ({"start": "2027-03-20T15:00:00"}, "starts_at"), ({"time_zone": "Mars/Olympus"}, "time_zone"),
                       ({"service": "not-a-uuid"}, "service_id"), ({"start": "99999-01-01T00:00:00Z"}, "starts_at")):
        form_page = f"/p/{slug}/book?service={service_id}&therapist=any&zone=Europe/Madrid&start={quote(start)}"
        refused = await browser.submit(f"/p/{slug}/book", {**_details(service_id, start), **bad}, form_page=form_page)
        assert refused.status_code == 422, (bad, refused.status_code)
        if field in ("first_name", "time_zone"):
            assert f'id="e-{field}"' in refused.text, bad
    assert (await in_tenant(db, slug, "SELECT count(*) FROM bookings"))[0][0] == 0
    # hostile query strings lead back to a step, never to an error
    for query in ("service=%00", f"service={service_id}&therapist=%ff%fe", f"service={service_id}&therapist=any&zone=Mars/Olympus",
                  f"service={service_id}&therapist=any&from=99999-99-99", f"service={service_id}&therapist=any&from=0001-01-01",
                  f"service={service_id}&therapist=any&start=not-a-time", f"service={service_id}&therapist=any&start=2027-03-20T15:00:00",
                  "service=" + "9" * 5000):
        answer = await browser.get(f"/p/{slug}/book?{query}")
        assert answer.status_code in (200, 400, 422), (query, answer.status_code)
    assert (await browser.get("/p/no-such-practice/book")).status_code == 404
    # a patient blocked after a risk alert learns only that online booking is unavailable
    created = await client.post(f"/api/v1/orgs/{slug}/patients", json={"first_name": "Bo", "email": "bo@example.org"}, headers=p.org.headers)
    await in_tenant(db, slug, "UPDATE patients SET blocked_at = now() WHERE id = :i", {"i": created.json()["id"]})
    blocked = await _book(browser, slug, _details(service_id, start, email="bo@example.org"))
    assert blocked.status_code == 409 and "Online booking is unavailable" in blocked.text and "risk" not in blocked.text.lower()
    assert (await in_tenant(db, slug, "SELECT count(*) FROM bookings"))[0][0] == 0
    # at the plan's patient limit (BUILDER: 3) a new client's booking is refused whole: no lead, no patient
    for name in ("Cai", "Dan"):
        assert (await client.post(f"/api/v1/orgs/{slug}/patients", json={"first_name": name}, headers=p.org.headers)).status_code == 201
    full = await _book(browser, slug, _details(service_id, start, email="new@example.org"))
    assert full.status_code == 403 and "Online booking is unavailable" in full.text
    assert (await in_tenant(db, slug, "SELECT count(*) FROM leads"))[0][0] == 0
    assert (await in_tenant(db, slug, "SELECT count(*) FROM patients"))[0][0] == 3
    assert (await in_tenant(db, slug, "SELECT count(*) FROM bookings"))[0][0] == 0



def test_a_token_opens_one_booking_of_one_organization_under_one_key():
    secret, booking_id = "s" * 40, uuid.uuid4()
    token = links.manage_token(secret, 7, booking_id)
    assert links.TOKEN_SHAPE.fullmatch(token) and links.booking_of(secret, 7, token) == booking_id
    assert links.booking_of(secret, 8, token) is None  # another organization
    assert links.booking_of("t" * 40, 7, token) is None  # another key (a rotated secret revokes every link)
    other = uuid.uuid4()
    assert links.booking_of(secret, 7, links.manage_token(secret, 7, other)[:22] + token[22:]) is None  # swapped id
    assert links.manage_url("https://anima.example/", secret, "serenity", 7, booking_id) == f"https://anima.example/p/serenity/b/{token}"


async def test_self_booking_is_rate_limited_per_client_address(client, db, settings):
    import httpx

    from anima.app import create_app
    from anima.identity.rate_limit import Limit, RateLimits

    p = await practice(client, db)
    limits = RateLimits().scaled(1000)
    limits.limits["book:address"] = Limit(2, 3600)
    app = create_app(settings, database=db, rate_limits=limits)
    free = await slots(client, p, day_ahead(7))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 4000)),
                                 base_url="http://testserver", follow_redirects=False) as http:
        browser = Browser(http)
        answers = []
        for i in range(3):
            start = free[i * 3]["starts_at"].replace("+00:00", "Z")
            answers.append((await _book(browser, p.org.slug, _details(p.service["id"], start, email=f"c{i}@example.org"))).status_code)
    assert answers == [303, 303, 429]
    assert (await in_tenant(db, p.org.slug, "SELECT count(*) FROM bookings"))[0][0] == 2
