"""In a real browser: an owner who sees clients connects their own Google Calendar — the profile
page's card, Connect, the (stub) consent, the callback, back to the page — then disconnects."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests import google_stub
from tests.browser.conftest import Server, running_server, visit_check
from tests.browser.test_operator_journey import _login
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stub() -> Iterator[google_stub.GoogleStub]:
    server = google_stub.GoogleStub().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(db, stub, tmp_path_factory) -> Iterator[Server]:
    """``anima demo`` with Google Calendar configured against the stub."""
    with running_server(db, tmp_path_factory.mktemp("gcal-server"), GOOGLE_CLIENT_ID=google_stub.CLIENT_ID,
                        GOOGLE_CLIENT_SECRET=google_stub.CLIENT_SECRET, GOOGLE_OAUTH_BASE=stub.url, GOOGLE_API_BASE=stub.url) as running:
        yield running


def test_a_clinician_connects_and_disconnects_google_calendar(page, server: Server, stub, request):
    slug, email = unique_slug("gcal"), unique_email("owner")
    signed_up = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Cedar Practice", "slug": slug, "email": email, "password": PASSWORD,
        "display_name": "Rosa Vidal", "tier": "PRO"}, timeout=30)
    assert signed_up.status_code == 201, signed_up.text
    _login(page, email, PASSWORD)
    page.wait_for_url(re.compile(r"/o/|/workspaces"))
    page.goto(f"/o/{slug}/profile")
    card = page.locator("#google-calendar")
    card.wait_for()
    assert "Not connected" in card.inner_text()
    visit_check(page, "profile-with-google-card", request=request)
    card.get_by_role("button", name="Connect Google Calendar").click()
    page.wait_for_url(re.compile(rf"/o/{slug}/google-calendar\?connected=true$"))
    main = page.locator("main").inner_text()
    assert "Your Google account is connected." in main and "Calendar: primary" in main
    assert stub.verifier_failures == 0 and len(stub.refresh_tokens) == 1
    visit_check(page, "google-calendar-connected", request=request)
    page.get_by_role("button", name="Disconnect Google Calendar").click()
    page.wait_for_url(re.compile(rf"/o/{slug}/google-calendar\?disconnected=true$"))
    assert "access revoked" in page.locator("main").inner_text()
    assert all(live is False for live in stub.refresh_tokens.values())
