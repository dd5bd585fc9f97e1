"""The development mailbox: the emails delivered without SMTP_URL, listed and opened in a browser."""

from __future__ import annotations

import re
import uuid

import httpx
import msgspec
import pytest

from anima.app import create_app
from anima.identity.rate_limit import RateLimits
from anima.mail.sender import send_due_emails
from tests.conftest import signup, unique_email
from tests.web.conftest import Browser


async def test_an_invitation_is_listed_and_opened_with_its_link_clickable(client, browser, db, settings):
    org = await signup(client)
    invitee = unique_email("mailbox")
    invited = await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": invitee, "role": "ASSISTANT"}, headers=org.headers)
    assert invited.status_code == 201, invited.text
    await send_due_emails(db, settings=settings, limit=1000)  # the app's settings: no SMTP_URL, its data dir

    listing = await browser.get("/dev/mailbox")
    assert listing.status_code == 200 and listing.headers["cache-control"] == "no-store"
    assert "Local mailbox" in listing.text and invitee in listing.text
    row = re.search(rf'{re.escape(invitee)}</td>\s*<td data-label="Subject"><a href="(/dev/mailbox/[0-9a-f-]+)">', listing.text)
    assert row, listing.text

    as_html = await browser.get(row.group(1))  # the HTML part first, inside a sandboxed frame
    assert as_html.status_code == 200 and as_html.headers["referrer-policy"] == "no-referrer"
    frame = re.search(r'<iframe class="mailbox-html" sandbox="" referrerpolicy="no-referrer" title="[^"]+" srcdoc="([^"]*)"></iframe>',
                      as_html.text)
    assert frame and "&lt;p&gt;" in frame.group(1) and "<p>" not in frame.group(1)  # escaped into the attribute only
    assert '<a href="?part=text">Plain text</a>' in as_html.text
    opened = await browser.get(row.group(1) + "?part=text")
    assert opened.status_code == 200 and "<iframe" not in opened.text and '<a href="?part=html">HTML</a>' in opened.text
    assert f"You are invited to join Practice {org.slug} on Anima" in opened.text
    link = re.search(r'<a href="(https?://[^"]+/invitations/[^"]+)" rel="noreferrer">', opened.text)
    assert link, opened.text
    invitation = await browser.get(link.group(1).removeprefix(settings.public_url))
    assert invitation.status_code == 200 and f"Practice {org.slug}" in invitation.text


async def test_the_mailbox_speaks_the_visitors_language(browser):
    page = await browser.get("/dev/mailbox", headers={"Accept-Language": "ca"})
    assert page.status_code == 200 and "Bústia local" in page.text


async def test_an_unknown_message_is_404(browser):
    assert (await browser.get(f"/dev/mailbox/{uuid.uuid4()}")).status_code == 404
    assert (await browser.get("/dev/mailbox/not-an-id")).status_code == 404


@pytest.mark.parametrize("change", [{"env": "production"}, {"smtp_url": "smtp://mail.example:587"}])
async def test_there_is_no_mailbox_in_production_or_with_a_mail_server(settings, db, change):
    app = create_app(msgspec.structs.replace(settings, **change), database=db, rate_limits=RateLimits().scaled(1000))
    base = "https://testserver" if change.get("env") == "production" else "http://testserver"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as http:
        browser = Browser(http)
        assert (await browser.get("/dev/mailbox")).status_code == 404
        assert (await browser.get(f"/dev/mailbox/{uuid.uuid4()}")).status_code == 404


async def test_a_message_with_an_invitation_file_lists_it_and_hostile_html_stays_in_the_sandbox(browser, settings):
    import datetime

    from anima.mail import mailbox
    from anima.mail.sender import Claimed, build_message

    email_id = uuid.uuid4()
    calendar = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    hostile = '<p>Hi</p><script>parent.document.title="owned"</script><form action="https://evil.example"><input></form>'
    message = build_message(settings, Claimed(
        id=email_id, recipient="ics@example.org", subject="Your session", body="Plain https://example.org/x",
        kind="test", created_at=datetime.datetime.now(datetime.UTC), attempts=1, html=hostile, calendar=calendar))
    mailbox.deliver(settings, email_id, message)
    page = await browser.get(f"/dev/mailbox/{email_id}")
    assert page.status_code == 200
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text  # only inside srcdoc, escaped
    assert 'sandbox=""' in page.text and "allow-scripts" not in page.text
    assert "invite.ics — text/calendar" in page.text and "Attachments" in page.text
    text = await browser.get(f"/dev/mailbox/{email_id}?part=text")
    assert '<a href="https://example.org/x" rel="noreferrer">' in text.text and "invite.ics" in text.text
    # a message without an HTML part shows its text, with no switch
    plain_id = uuid.uuid4()
    mailbox.deliver(settings, plain_id, build_message(settings, Claimed(
        id=plain_id, recipient="p@example.org", subject="Plain", body="Only text", kind="test",
        created_at=datetime.datetime.now(datetime.UTC), attempts=1)))
    plain = await browser.get(f"/dev/mailbox/{plain_id}")
    assert "Only text" in plain.text and "<iframe" not in plain.text and "?part=" not in plain.text
