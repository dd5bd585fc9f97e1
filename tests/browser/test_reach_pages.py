"""In a real browser: a marketing email's unsubscribe page (ask, then confirm) and the operator
console's undelivered messages with a retry."""

from __future__ import annotations

import re
import secrets
import uuid

import httpx
import psycopg
import pytest

from anima.mail.unsubscribe import make_token
from tests.browser.conftest import Server, visit_check
from tests.browser.test_operator_journey import OPERATOR, _login
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser


def _organization(server: Server, name: str) -> tuple[str, int]:
    slug = unique_slug("reach")
    signed_up = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": name, "slug": slug, "email": unique_email("owner"), "password": PASSWORD,
        "display_name": "Rosa Vidal", "tier": "PRO",
    }, timeout=30)
    assert signed_up.status_code == 201, signed_up.text
    with psycopg.connect(server.dsn) as conn:
        tenant_id = conn.execute("SELECT id FROM platform.tenants WHERE slug = %s", (slug,)).fetchone()[0]
    return slug, tenant_id


def test_the_unsubscribe_page_asks_then_confirms(page, server: Server, request):
    _, tenant_id = _organization(server, "Harbour Light Practice")
    token = make_token(server.env["ANIMA_SECRET_KEY"], tenant_id, secrets.token_bytes(32))
    page.goto(f"/unsubscribe/{token}")
    assert "Harbour Light Practice" in page.locator("main").inner_text()
    visit_check(page, "unsubscribe-ask", request=request)
    page.get_by_role("button", name="Unsubscribe").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "You are unsubscribed"
    visit_check(page, "unsubscribe-done", request=request)
    page.goto(f"/unsubscribe/{token[:-2]}xx")
    assert page.get_by_role("heading", level=1).inner_text() == "This link is not valid"


def test_an_operator_sees_an_undelivered_message_and_retries_it(page, server: Server, request):
    email_id = uuid.uuid4()
    with psycopg.connect(server.dsn) as conn:  # an invitation the mail server refused for good
        conn.execute(
            "INSERT INTO platform.email_outbox (id, recipient, subject, body, kind, status, attempts, last_error) "
            "VALUES (%s, %s, 'You are invited', 'body', 'invitation', 'failed', 1, '550 5.1.1 No such user here')",
            (email_id, unique_email("bounced")))
        conn.execute(
            "INSERT INTO platform.mail_failures (id, tenant_id, channel, kind, reason, attempts) "
            "VALUES (%s, NULL, 'email', 'invitation', '550 5.1.1 No such user here', 1)", (email_id,))
    _login(page, *OPERATOR)
    page.wait_for_url(re.compile(r"/workspaces$"))
    page.goto("/operator/mail")
    assert page.get_by_role("heading", level=1).inner_text() == "Undelivered messages"
    assert "550 5.1.1 No such user here" in page.locator("main").inner_text()
    visit_check(page, "operator-mail", request=request)
    page.locator(f"form[action='/operator/mail/{email_id}/retry'] button").click()
    page.wait_for_url(re.compile(r"done=retried"))
    visit_check(page, "operator-mail-retried", request=request)
    with psycopg.connect(server.dsn) as conn:
        status, attempts = conn.execute("SELECT status, attempts FROM platform.email_outbox WHERE id = %s", (email_id,)).fetchone()
    # queued again with its attempts reset; the server's worker may already have sent it to the local mailbox
    assert (status, attempts) in {("queued", 0), ("sending", 1), ("sent", 1)}


def test_sms_consent_on_the_persons_page(page, server: Server, request):
    slug, owner = unique_slug("sms"), unique_email("owner")
    signed_up = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Harbour Light Practice", "slug": slug, "email": owner, "password": PASSWORD,
        "display_name": "Rosa Vidal", "tier": "PRO",
    }, timeout=30)
    token = signed_up.json()["tokens"]["access_token"]
    patient = httpx.post(f"{server.base}/api/v1/orgs/{slug}/patients", json={"first_name": "Luz", "phone": "+34 600 11 22 33"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    _login(page, owner, PASSWORD)
    page.wait_for_url(re.compile(rf"/o/{slug}/"))
    page.goto(f"/o/{slug}/people/{patient['id']}#sms")
    section = page.locator("#sms")
    assert "SMS is off on this deployment" in section.inner_text()
    section.locator("summary").click()
    section.get_by_label("Given").check()
    section.get_by_label("How it was obtained").select_option("written")
    section.get_by_role("button", name="Record").click()
    page.wait_for_url(re.compile(r"done=sms"))
    assert "Given" in page.locator("#sms").inner_text()
    page.locator("#sms").scroll_into_view_if_needed()
    visit_check(page, "person-sms", request=request)
