"""Password reset: the same answer for every address, a single-use link that expires within an hour,
the signup password policy, every session revoked and the browser signed in."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from anima.app import create_app
from anima.identity.rate_limit import Limit, RateLimits
from anima.identity.tokens import hash_token
from tests.conftest import PASSWORD, signup, unique_email
from tests.web.account_support import emails_to, latest_link, scalar
from tests.web.conftest import Browser

NEW_PASSWORD = "Another-tidal-lantern-42"


async def test_the_answer_is_the_same_whether_or_not_an_account_has_the_address(client, browser: Browser, db):
    org = await signup(client)
    nobody = unique_email("nobody")
    known = await browser.submit("/password/reset", {"email": org.owner_email})
    unknown = await browser.submit("/password/reset", {"email": nobody})
    assert known.status_code == unknown.status_code == 200
    strip = lambda r, email: r.text.replace(email, "EMAIL").split('name="_csrf_token"')[0]  # noqa: E731
    assert strip(known, org.owner_email) == strip(unknown, nobody)
    assert "Check your inbox" in known.text
    assert await emails_to(db, org.owner_email, "password-reset") == 1
    assert await emails_to(db, nobody) == 0


async def test_a_reset_link_sets_the_password_once_ends_every_session_and_signs_in(client, browser: Browser, other_browser: Browser, db):
    org = await signup(client)
    await other_browser.login(org.owner_email)  # another device, signed in with the old password
    await browser.submit("/password/reset", {"email": org.owner_email.upper()})
    link = await latest_link(db, org.owner_email, "/password/reset/")
    token = link.rsplit("/", 1)[1]
    assert await scalar(db, "SELECT count(*) FROM platform.account_tokens WHERE token_hash = :h", h=hash_token(token)) == 1
    assert await scalar(db, "SELECT expires_at - created_at <= interval '1 hour' FROM platform.account_tokens WHERE token_hash = :h",
                        h=hash_token(token))
    form = await browser.get(link)
    assert form.status_code == 200 and 'name="password"' in form.text

    weak = await browser.submit(link, {"password": "short"})
    assert weak.status_code == 422 and 'id="e-password"' in weak.text and 'value="short"' not in weak.text
    common = await browser.submit(link, {"password": "password123"})
    assert common.status_code == 422 and "most common passwords" in common.text

    done = await browser.submit(link, {"password": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == "/workspaces"
    assert (await browser.get(f"/o/{org.slug}/")).status_code == 200  # this browser is signed in
    assert (await other_browser.get(f"/o/{org.slug}/")).status_code == 303  # the other device is signed out
    api = await client.get("/api/v1/me", headers=org.headers)
    assert api.status_code == 401  # the API session too
    assert (await client.post("/api/v1/auth/login", json={"email": org.owner_email, "password": PASSWORD})).status_code == 401
    assert (await client.post("/api/v1/auth/login", json={"email": org.owner_email, "password": NEW_PASSWORD})).status_code == 200
    assert await scalar(db, "SELECT email_verified_at IS NOT NULL FROM platform.users WHERE email = :e", e=org.owner_email)

    again = await browser.get(link)
    assert again.status_code == 410 and 'name="password"' not in again.text and "already used" in again.text
    replay = await browser.submit(link, {"password": "Yet-another-pass-77"}, form_page="/password/reset")
    assert replay.status_code == 410 and 'name="password"' not in replay.text
    assert (await client.post("/api/v1/auth/login", json={"email": org.owner_email, "password": NEW_PASSWORD})).status_code == 200


async def test_an_expired_or_replaced_link_shows_a_clear_page_never_the_form(client, browser: Browser, db):
    org = await signup(client)
    await browser.submit("/password/reset", {"email": org.owner_email})
    first = await latest_link(db, org.owner_email, "/password/reset/")
    await browser.submit("/password/reset", {"email": org.owner_email})
    second = await latest_link(db, org.owner_email, "/password/reset/")
    replaced = await browser.get(first)
    assert replaced.status_code == 410 and 'name="password"' not in replaced.text
    async with db.admin.begin() as conn:
        await conn.execute(sa.text("UPDATE platform.account_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = :h"),
                           {"h": hash_token(second.rsplit("/", 1)[1])})
    expired = await browser.get(second)
    assert expired.status_code == 410 and "expired" in expired.text and 'name="password"' not in expired.text
    posted = await browser.submit(second, {"password": NEW_PASSWORD}, form_page="/password/reset")
    assert posted.status_code == 410 and "anima_access" not in posted.headers.get("set-cookie", "")
    assert (await client.post("/api/v1/auth/login", json={"email": org.owner_email, "password": PASSWORD})).status_code == 200
    for junk in ("A" * 43, "x", "../../etc/passwd", "a" * 5000):
        response = await browser.get(f"/password/reset/{junk}")
        assert response.status_code == 404 and 'name="password"' not in response.text


async def test_hostile_inputs_are_refused(client, browser: Browser, db):
    org = await signup(client)
    for values in ({"email": "a\x00@example.org"}, {"email": "x" * 10_000}, {"email": "not-an-email"}, {"email": ""},
                   {"email": org.owner_email, "extra": "1"}):
        response = await browser.submit("/password/reset", values)
        assert 400 <= response.status_code < 500, values
    assert await emails_to(db, org.owner_email, "password-reset") == 0
    await browser.submit("/password/reset", {"email": org.owner_email})
    link = await latest_link(db, org.owner_email, "/password/reset/")
    for values in ({"password": "abc\x00defghijk"}, {"password": "p" * 10_000}, {"password": ""}, {}):
        response = await browser.submit(link, values)
        assert 400 <= response.status_code < 500, values
    assert (await browser.get(link)).status_code == 200  # the link is still usable
    assert (await client.post("/api/v1/auth/login", json={"email": org.owner_email, "password": PASSWORD})).status_code == 200


async def test_reset_forms_refuse_a_missing_csrf_token(client, browser: Browser, db):
    org = await signup(client)
    await browser.get("/password/reset")
    assert (await browser.http.post("/password/reset", data={"email": org.owner_email})).status_code == 403
    assert await emails_to(db, org.owner_email, "password-reset") == 0


async def test_asking_for_links_is_rate_limited_alike_for_every_address(settings, db, client):
    org = await signup(client)
    limits = RateLimits({**RateLimits().limits, "reset:account": Limit(2, 3600)})
    app = create_app(settings, database=db, rate_limits=limits)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.9.8.7", 1)), base_url="http://testserver") as http:
        browser = Browser(http)
        for email in (org.owner_email, unique_email("ghost")):
            statuses = [(await browser.submit("/password/reset", {"email": email})).status_code for _ in range(3)]
            assert statuses == [200, 200, 429], (email, statuses)
    assert await emails_to(db, org.owner_email, "password-reset") == 2
