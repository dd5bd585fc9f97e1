"""The confirm link of a reminder: the GET only shows, the POST confirms once, a forged or
cancelled booking's link confirms nothing."""

from __future__ import annotations

import uuid

from anima.domains.bookings import links
from tests.integration.booking_support import day_ahead, hold, practice, slots
from tests.integration.events_support import in_tenant, tenant_id_of
from tests.web.conftest import Browser


async def _confirmed_booking(client, db, settings):
    p = await practice(client, db)
    start = (await slots(client, p, day_ahead(4)))[0]["starts_at"]
    booking_id = (await hold(client, p, start, p.patients[0])).json()["id"]
    assert (await client.post(f"{p.base}/bookings/{booking_id}/confirm", headers=p.org.headers)).status_code == 200
    tid = await tenant_id_of(db, p.org.slug)
    return p, booking_id, links.manage_path(settings.secret_key, p.org.slug, tid, uuid.UUID(booking_id))


async def test_the_confirm_link_confirms_once_and_only_by_post(client, db, settings, browser: Browser):
    p, booking_id, path = await _confirmed_booking(client, db, settings)
    stamp = "SELECT client_confirmed_at, status FROM bookings WHERE id = :b"
    page = await browser.get(f"{path}/confirm")
    assert page.status_code == 200 and "I am coming" in page.text
    assert (await in_tenant(db, p.org.slug, stamp, {"b": booking_id}))[0][0] is None  # showing confirms nothing
    csrf = await browser.csrf(f"{path}/confirm")
    first = await browser.http.post(f"{path}/confirm", data={"_csrf_token": csrf})
    assert first.status_code == 200 and "you have confirmed that you are coming" in first.text
    [(confirmed_at, status)] = await in_tenant(db, p.org.slug, stamp, {"b": booking_id})
    assert confirmed_at is not None and status == "CONFIRMED"
    second = await browser.http.post(f"{path}/confirm", data={"_csrf_token": csrf})
    assert second.status_code == 200 and "already confirmed" in second.text
    assert (await in_tenant(db, p.org.slug, stamp, {"b": booking_id}))[0][0] == confirmed_at  # once
    assert "I am coming" not in (await browser.get(f"{path}/confirm")).text


async def test_forged_and_cancelled_links_confirm_nothing(client, db, settings, browser: Browser):
    p, booking_id, path = await _confirmed_booking(client, db, settings)
    token = path.rsplit("/", 1)[1]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert (await browser.get(f"/p/{p.org.slug}/b/{forged}/confirm")).status_code == 404
    csrf = await browser.csrf(f"{path}/confirm")
    assert (await browser.http.post(f"/p/{p.org.slug}/b/{forged}/confirm", data={"_csrf_token": csrf})).status_code == 404
    gone = await client.post(f"{p.base}/bookings/{booking_id}/cancellation", json={"by": "practice"}, headers=p.org.headers)
    assert gone.status_code == 200
    page = await browser.get(f"{path}/confirm")
    assert "can no longer be confirmed online" in page.text and "I am coming" not in page.text
    refused = await browser.http.post(f"{path}/confirm", data={"_csrf_token": csrf})
    assert refused.status_code == 409
    assert (await in_tenant(db, p.org.slug, "SELECT client_confirmed_at FROM bookings WHERE id = :b", {"b": booking_id}))[0][0] is None
