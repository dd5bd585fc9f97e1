"""Invitation links: they carry the address actually served and open a page that answers in a browser."""

from __future__ import annotations

import re

import sqlalchemy as sa

from anima.cli import with_address
from anima.config import load_settings
from tests.conftest import signup, unique_email
from tests.conftest import test_environ as environ_for_tests


async def test_the_link_in_the_email_opens_the_page_that_accepts_it(client, db, settings):
    org = await signup(client)
    email = unique_email("invitee")
    invited = await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": email, "role": "THERAPIST"}, headers=org.headers)
    assert invited.status_code == 201
    async with db.admin.connect() as conn:
        body = (await conn.execute(sa.text("SELECT body FROM platform.email_outbox WHERE recipient = :r"), {"r": email})).scalar_one()
    link = re.search(r"(https?://\S+/invitations/\S+)", body).group(1)
    token = body.rsplit(": ", 1)[1].strip()
    assert link == f"{settings.public_url}/invitations/{token}"

    page = await client.get(link.removeprefix(settings.public_url), headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    # the page names the organization and the role and holds the form that accepts this token
    assert f'action="/invitations/{token}"' in page.text and f"Practice {org.slug}" in page.text
    assert "as therapist" in page.text and 'name="password"' in page.text
    # the page never echoes what is not a token: such a link gets the "not valid" page, like an unknown token
    odd = await client.get("/invitations/%3Cscript%3Ealert(1)%3C")
    assert odd.status_code == 404 and "<script>alert" not in odd.text and "alert(1)" not in odd.text
    assert odd.headers["cache-control"] == "no-store" and odd.headers["referrer-policy"] == "no-referrer"
    unknown = await client.get("/invitations/" + "A" * 43)
    assert unknown.status_code == 404 and "A" * 43 not in unknown.text.split("<main", 1)[1]
    # the API still accepts the token directly
    accepted = await client.post("/api/v1/invitations/accept", json={"token": token, "password": "correct-Horse-battery-9", "display_name": "T"})
    assert accepted.status_code == 200, accepted.text


def test_command_line_address_drives_the_public_url():
    base = load_settings(environ_for_tests(ANIMA_PORT="8000"))
    moved = with_address(base, "127.0.0.2", 9123, environ={})
    assert (moved.host, moved.port, moved.public_url) == ("127.0.0.2", 9123, "http://127.0.0.2:9123")
    assert with_address(base, None, 9124, environ={}).public_url == f"http://{base.host}:9124"
    assert with_address(base, None, None, environ={}).public_url == base.public_url
    explicit = load_settings(environ_for_tests(ANIMA_PUBLIC_URL="https://app.example.org"))
    kept = with_address(explicit, None, 9125, environ={"ANIMA_PUBLIC_URL": "https://app.example.org"})
    assert kept.port == 9125 and kept.public_url == "https://app.example.org"


async def test_the_invitation_page_needs_nothing_the_content_security_policy_refuses(client, db):
    """The page is served under the API's policy (``default-src 'none'``): no inline style or script,
    which a browser would refuse (seen in Chromium before this test existed)."""
    org = await signup(client)
    email = unique_email("invitee")
    await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": email, "role": "THERAPIST"}, headers=org.headers)
    async with db.admin.connect() as conn:
        body = (await conn.execute(sa.text("SELECT body FROM platform.email_outbox WHERE recipient = :r"), {"r": email})).scalar_one()
    token = body.rsplit(": ", 1)[1].strip()
    for path in (f"/invitations/{token}", "/invitations/" + "A" * 43):
        page = await client.get(path)
        assert page.status_code in (200, 404)
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert "'unsafe-inline'" not in page.headers["content-security-policy"]
        text = page.text.lower()
        assert "style=" not in text and "<style" not in text and "<script>" not in text and " onclick=" not in text
        assert all(" src=" in tag for tag in re.findall(r"<script[^>]*>", text))  # scripts only from files
