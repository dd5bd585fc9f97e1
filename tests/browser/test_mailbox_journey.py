"""A newcomer without a mail server: the invitation lands in the development mailbox and is accepted from there."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest

from tests.browser.conftest import Server, visit_check
from tests.conftest import PASSWORD, ROOT, unique_email, unique_slug

pytestmark = pytest.mark.browser


def test_an_invitation_opened_from_the_local_mailbox_is_accepted(page, server: Server, request):
    slug, owner = unique_slug("mailbox"), unique_email("owner")
    signed_up = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Harbour Light Practice", "slug": slug, "email": owner, "password": PASSWORD,
        "display_name": "Rosa Vidal", "tier": "PRO",
    }, timeout=30)
    assert signed_up.status_code == 201, signed_up.text
    token = signed_up.json()["tokens"]["access_token"]
    invitee = unique_email("newcomer")
    invited = httpx.post(f"{server.base}/api/v1/orgs/{slug}/invitations", json={"email": invitee, "role": "THERAPIST"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert invited.status_code == 201, invited.text
    # what the server's worker does within a minute, now
    sent = subprocess.run([sys.executable, "-m", "anima", "mail", "send"], env=server.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert sent.returncode == 0 and sent.stdout.startswith("sent "), sent.stdout + sent.stderr

    page.goto("/dev/mailbox")
    assert page.locator("h1").inner_text() == "Local mailbox"
    visit_check(page, "mailbox", request=request)
    page.get_by_role("row", name=re.compile(re.escape(invitee))).get_by_role("link").click()
    page.wait_for_url(re.compile(r"/dev/mailbox/[0-9a-f-]{36}$"))
    assert "Harbour Light Practice" in page.locator("h1").inner_text()
    # the HTML part first, in a sandboxed frame; its text is there, its link cannot leave the frame
    frame = page.frame_locator("iframe.mailbox-html")
    assert "Harbour Light Practice" in frame.locator("body").inner_text()
    assert page.locator("iframe.mailbox-html").get_attribute("sandbox") == ""
    visit_check(page, "mailbox-message", request=request)
    page.get_by_role("link", name="Plain text").click()
    page.wait_for_url(re.compile(r"\?part=text$"))
    visit_check(page, "mailbox-message-text", request=request)

    page.locator(".mailbox-body a", has_text="/invitations/").click()
    page.wait_for_url(re.compile(r"/invitations/"))
    assert "Harbour Light Practice" in page.locator("main").inner_text()
