"""The occurrences page's forms: an owner adds a new date (local time in the practice's zone, a
price override in the service's currency), refusals named beside the field with nothing written,
a therapist has no form and is refused, owners and assistants book a seat for a patient."""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

from tests.conftest import add_member
from tests.integration.booking_support import day_ahead, practice
from tests.integration.events_support import in_tenant
from tests.web.conftest import Browser


async def _retreat(client, p) -> str:
    made = await client.post(f"{p.base}/services", json={
        "name": "Retreat", "kind": "GROUP", "scheduling": "FIXED_DATE", "duration_minutes": 480, "price_minor": 30000, "currency": "EUR",
        "location": "IN_PERSON", "capacity": 2}, headers=p.org.headers)
    assert made.status_code == 201, made.text
    return made.json()["id"]


async def test_owner_adds_a_date_and_books_a_seat(client, db, browser: Browser, other_browser: Browser):
    p = await practice(client, db)
    retreat = await _retreat(client, p)
    await browser.login(p.org.owner_email)
    page_path = f"/o/{p.org.slug}/calendar/occurrences"
    page = await browser.get(page_path)
    assert page.status_code == 200 and 'id="new-date"' in page.text and "Retreat" in page.text
    day = day_ahead(30)
    made = await browser.submit(page_path, {"service_id": retreat, "starts_at": f"{day.isoformat()}T09:00",
                                            "ends_at": f"{day.isoformat()}T17:00", "capacity": "3", "location": "Hall",
                                            "price": "150,5"}, form_page=page_path)
    assert made.status_code == 303, made.text
    rows = await in_tenant(db, p.org.slug, "SELECT id, starts_at, ends_at, capacity, price_minor, location FROM occurrences")
    assert len(rows) == 1
    oid, starts, ends, capacity, price, location = rows[0]
    zone = re.search(r"Local time in ([^.]+)\.", page.text).group(1).replace(" ", "_")
    local = datetime.datetime.combine(day, datetime.time(9), tzinfo=ZoneInfo(zone))
    assert starts == local and ends - starts == datetime.timedelta(hours=8)
    assert (capacity, price, location) == (3, 15050, "Hall")
    listed = await browser.get(page_path)
    card = re.search(rf'id="occurrence-{oid}".*?</li>', listed.text, re.S).group(0)
    assert "0 of 3 seats taken" in card
    # a seat for a patient, from the page
    seat = await browser.submit(f"{page_path}/{oid}/seats", {"patient_id": p.patients[0]}, form_page=page_path)
    assert seat.status_code == 303, seat.text
    card = re.search(rf'id="occurrence-{oid}".*?</li>', (await browser.get(page_path)).text, re.S).group(0)
    assert "1 of 3 seats taken" in card
    again = await browser.submit(f"{page_path}/{oid}/seats", {"patient_id": p.patients[0]}, form_page=page_path)
    assert again.status_code == 409
    assert len(await in_tenant(db, p.org.slug, "SELECT id FROM bookings WHERE occurrence_id = :o", {"o": oid})) == 1
    # an assistant may book a seat but sees no new-date form and is refused it
    assistant, _, _ = await add_member(client, db, p.org, "ASSISTANT")
    await other_browser.login(assistant)
    seen = await other_browser.get(page_path)
    assert seen.status_code == 200 and 'id="new-date"' not in seen.text and "Book seat" in seen.text
    booked = await other_browser.submit(f"{page_path}/{oid}/seats", {"patient_id": p.patients[1]}, form_page=page_path)
    assert booked.status_code == 303
    refused = await other_browser.submit(page_path, {"service_id": retreat, "starts_at": f"{day.isoformat()}T09:00",
                                                     "ends_at": f"{day.isoformat()}T10:00"}, form_page=page_path)
    assert refused.status_code == 403


async def test_refusals_are_named_beside_the_field_and_write_nothing(client, db, browser: Browser, other_browser: Browser):
    p = await practice(client, db)
    retreat = await _retreat(client, p)
    await browser.login(p.org.owner_email)
    page_path = f"/o/{p.org.slug}/calendar/occurrences"
    day = day_ahead(30).isoformat()
    base = {"service_id": retreat, "starts_at": f"{day}T09:00", "ends_at": f"{day}T17:00"}
    for changes, name in (({"capacity": "0"}, "capacity"), ({"capacity": "lots"}, "capacity"), ({"capacity": "9" * 30}, "capacity"),
                          ({"ends_at": f"{day}T08:00"}, "ends_at"), ({"starts_at": "2027-13-40T99h"}, "starts_at"),
                          ({"starts_at": f"{day_ahead(-800).isoformat()}T09:00"}, "starts_at"),
                          ({"starts_at": "x\x00"}, "starts_at"), ({"price": "1.234"}, "price"), ({"price": "abc"}, "price"),
                          ({"service_id": p.service["id"]}, "service_id"), ({"location": "a\x00b"}, "location")):
        answer = await browser.submit(page_path, {**base, **changes}, form_page=page_path)
        assert answer.status_code == 422, (changes, answer.status_code)
        assert f'id="e-{name}"' in answer.text, changes
    assert await in_tenant(db, p.org.slug, "SELECT id FROM occurrences") == []
    # a therapist: no form, and the post is refused
    therapist_email = (await in_tenant(db, p.org.slug, "SELECT email FROM staff WHERE id = :i", {"i": p.therapist_id}))[0][0]
    await other_browser.login(therapist_email)
    seen = await other_browser.get(page_path)
    assert seen.status_code == 200 and 'id="new-date"' not in seen.text
    assert (await other_browser.submit(page_path, base, form_page=page_path)).status_code == 403
    assert await in_tenant(db, p.org.slug, "SELECT id FROM occurrences") == []
    # no CSRF token: refused
    assert (await browser.http.post(page_path, data=base)).status_code == 403
