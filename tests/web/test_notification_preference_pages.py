"""The notification preferences card on the member's own profile page: shown with the role's
defaults, saved by its form (a box left unchecked is off), translated."""

from __future__ import annotations

from tests.conftest import add_member, bearer, signup


async def test_a_therapist_switches_their_emails_on_the_profile_page(client, db, browser):
    org = await signup(client)
    email, therapist, _ = await add_member(client, db, org, "THERAPIST")
    await browser.login(email)
    profile = await browser.get(f"/o/{org.slug}/profile")
    assert f"/o/{org.slug}/notification-preferences/card" in profile.text
    card = await browser.get(f"/o/{org.slug}/notification-preferences/card")
    assert card.status_code == 200
    assert 'name="new_booking" value="on" checked' in card.text and 'name="new_lead" value="on">' in card.text
    assert "only about your own bookings" in card.text

    saved = await browser.submit(f"/o/{org.slug}/notification-preferences", {"new_lead": "on"},
                                 form_page=f"/o/{org.slug}/notification-preferences/card")
    assert saved.status_code == 303 and saved.headers["location"].endswith("/profile?saved=true#notifications")
    api = await client.get(f"/api/v1/orgs/{org.slug}/notification-preferences/me", headers=bearer(therapist["access_token"]))
    assert api.json() == {"new_booking": False, "cancellation": False, "risk_alert": False, "new_lead": True, "is_default": False}
    again = await browser.get(f"/o/{org.slug}/notification-preferences/card")
    assert 'name="new_lead" value="on" checked' in again.text and 'name="new_booking" value="on">' in again.text

    no_token = await browser.http.post(f"/o/{org.slug}/notification-preferences", data={"new_booking": "on"})
    assert no_token.status_code == 403  # CSRF
    assert (await client.get(f"/api/v1/orgs/{org.slug}/notification-preferences/me",
                             headers=bearer(therapist["access_token"]))).json()["new_booking"] is False


async def test_the_card_speaks_the_members_language(client, db, browser):
    org = await signup(client)
    await client.patch(f"/api/v1/orgs/{org.slug}/settings", json={"locale": "es"}, headers=org.headers)
    await browser.login(org.owner_email)
    card = await browser.get(f"/o/{org.slug}/notification-preferences/card")
    assert "Notificaciones por correo" in card.text and "Alertas de riesgo" in card.text


async def test_the_person_page_edits_the_zone_and_shows_contact_preferences(client, db, browser):
    org = await signup(client)
    made = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Iris", "email": "iris@example.org", "language": "ca"},
                             headers=org.headers)
    pid = made.json()["id"]
    await browser.login(org.owner_email)
    base = f"/o/{org.slug}/people/{pid}"
    page = await browser.get(base)
    assert 'id="contact-preferences"' in page.text and "Receives emails." in page.text and "No consent: no SMS is sent." in page.text
    bad = await browser.submit(f"{base}/details", {"first_name": "Iris", "time_zone": "Mars/Olympus"}, form_page=base)
    assert 'select id="f-time_zone" name="time_zone"' in page.text and 'input id="f-time_zone"' not in page.text
    assert '<option value="" selected>' in page.text  # the practice's, until one is chosen
    assert bad.status_code == 422 and 'id="e-time_zone"' in bad.text and 'Mars/Olympus' not in bad.text.split('id="f-time_zone"')[1].split("</select>")[0]
    ok = await browser.submit(f"{base}/details", {"first_name": "Iris", "time_zone": "America/New_York"}, form_page=base)
    assert ok.status_code == 303, ok.text
    api = await client.get(f"/api/v1/orgs/{org.slug}/patients/{pid}", headers=org.headers)
    assert api.json()["time_zone"] == "America/New_York" and api.json()["language"] == "ca"
    saved = (await browser.get(base)).text
    assert "America/New York" in saved and '<option value="America/New_York" selected>' in saved
    cleared = await browser.submit(f"{base}/details", {"first_name": "Iris", "time_zone": ""}, form_page=base)
    assert cleared.status_code == 303
    assert (await client.get(f"/api/v1/orgs/{org.slug}/patients/{pid}", headers=org.headers)).json()["time_zone"] is None
