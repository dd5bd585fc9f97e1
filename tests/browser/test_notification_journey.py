"""In a real browser: an owner switches their notification emails on their profile page's card,
and sees a client's contact preferences on the person page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.browser.conftest import Server, running_server, visit_check
from tests.browser.test_operator_journey import _login
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(db, tmp_path_factory) -> Iterator[Server]:
    with running_server(db, tmp_path_factory.mktemp("prefs-server")) as running:
        yield running


def test_an_owner_switches_notification_emails_and_reads_contact_preferences(page, server: Server, request):
    slug, email = unique_slug("prefs"), unique_email("owner")
    signed_up = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Olive Practice", "slug": slug, "email": email, "password": PASSWORD,
        "display_name": "Marta Soler", "tier": "PRO"}, timeout=30)
    assert signed_up.status_code == 201, signed_up.text
    token = signed_up.json()["tokens"]["access_token"]
    _login(page, email, PASSWORD)
    page.wait_for_url(re.compile(r"/o/|/workspaces"))
    page.goto(f"/o/{slug}/profile")
    card = page.locator("#notifications")
    card.wait_for()
    assert card.get_by_label("Risk alerts").is_checked() and not card.get_by_label("New bookings").is_checked()
    visit_check(page, "profile-with-notifications-card", request=request)
    card.get_by_label("New bookings").check()
    card.get_by_role("button", name="Save notifications").click()
    page.wait_for_url(re.compile(r"/profile\?saved=true"))
    page.locator("#notifications").wait_for()
    assert page.locator("#notifications").get_by_label("New bookings").is_checked()

    made = httpx.post(f"{server.base}/api/v1/orgs/{slug}/patients", headers={"Authorization": f"Bearer {token}"},
                      json={"first_name": "Nil", "email": "nil@example.org", "language": "ca", "time_zone": "America/New_York"}, timeout=30)
    assert made.status_code == 201, made.text
    page.goto(f"/o/{slug}/people/{made.json()['id']}")
    prefs = page.locator("#contact-preferences")
    prefs.wait_for()
    text = prefs.inner_text()
    assert "Receives emails." in text and "America/New York" in text and "ca" in text
    prefs.scroll_into_view_if_needed()
    visit_check(page, "person-contact-preferences", request=request)

    # the zone is chosen from the grouped zone list (the one the profile and settings use)
    page.get_by_text("Edit details").click()
    zone = page.locator('select[name="time_zone"]')
    assert zone.input_value() == "America/New_York"
    zone.select_option("Europe/Rome")
    zone.scroll_into_view_if_needed()
    visit_check(page, "person-zone-select", request=request)
    page.get_by_role("button", name="Save details").click()
    page.wait_for_load_state()
    assert "Europe/Rome" in page.locator("#contact-preferences").inner_text()
