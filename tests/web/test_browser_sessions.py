"""Browser sessions through the real app and database: cookie flags, CSRF, CSP, renewal, isolation."""

from __future__ import annotations

import re

from anima.http.security_headers import PAGE_CSP
from tests.conftest import PASSWORD, signup
from tests.web.conftest import Browser


def _set_cookies(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


async def test_login_sets_httponly_lax_cookies_and_opens_the_workspace(client, browser: Browser):
    org = await signup(client)
    response = await browser.login(org.owner_email)
    cookies = _set_cookies(response)
    for name in ("anima_access", "anima_refresh"):
        header = cookies[name].lower()
        assert "httponly" in header and "samesite=lax" in header and "path=/" in header
    assert response.headers["location"] == "/workspaces"
    chooser = await browser.get("/workspaces")
    assert chooser.status_code == 303 and chooser.headers["location"] == f"/o/{org.slug}/"
    page = await browser.get(f"/o/{org.slug}/")
    assert page.status_code == 200, page.text
    assert "<h1>Today</h1>" in page.text
    assert page.headers["content-security-policy"] == PAGE_CSP
    assert "'unsafe-inline'" not in PAGE_CSP
    assert "<script>" not in page.text and " style=" not in page.text and " on" + "click=" not in page.text


async def test_a_wrong_password_keeps_the_email_and_says_why(client, browser: Browser):
    org = await signup(client)
    response = await browser.submit("/login", {"email": org.owner_email, "password": "not-it"})
    assert response.status_code == 401
    assert f'value="{org.owner_email}"' in response.text
    assert "email or password is incorrect" in response.text
    assert "not-it" not in response.text


async def test_post_without_the_csrf_token_is_refused(client, browser: Browser):
    org = await signup(client)
    await browser.get("/login")  # the CSRF cookie is set, the token is not sent
    response = await browser.http.post("/login", data={"email": org.owner_email, "password": PASSWORD})
    assert response.status_code == 403
    assert "anima_access" not in _set_cookies(response)
    forged = await browser.http.post("/login", data={"email": org.owner_email, "password": PASSWORD, "_csrf_token": "x" * 128})
    assert forged.status_code == 403


async def test_signed_out_workspace_goes_to_login_with_next(client, browser: Browser):
    org = await signup(client)
    response = await browser.get(f"/o/{org.slug}/")
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=/o/{org.slug}"


async def test_login_next_is_same_site_only(client, browser: Browser):
    org = await signup(client)
    for target, expected in (("//evil.example/x", "/workspaces"), ("https://evil.example", "/workspaces"), (f"/o/{org.slug}/", f"/o/{org.slug}/")):
        response = await browser.submit("/login", {"email": org.owner_email, "password": PASSWORD, "next": target})
        assert response.headers["location"] == expected


async def test_a_session_cookie_of_one_organization_opens_nothing_in_another(client, browser: Browser):
    mine, theirs = await signup(client), await signup(client)
    await browser.login(mine.owner_email)
    assert (await browser.get(f"/o/{mine.slug}/")).status_code == 200
    response = await browser.get(f"/o/{theirs.slug}/")
    assert response.status_code == 404
    assert f"Practice {theirs.slug}" not in response.text  # nothing of the other organization is shown


async def test_an_expired_access_cookie_is_renewed_from_the_refresh_cookie(client, browser: Browser):
    org = await signup(client)
    await browser.login(org.owner_email)
    old_refresh = browser.http.cookies.get("anima_refresh")
    browser.http.cookies.delete("anima_access")  # as the browser does after its 10 minutes
    page = await browser.get(f"/o/{org.slug}/")
    assert page.status_code == 200
    renewed = _set_cookies(page)
    assert "anima_access" in renewed and "anima_refresh" in renewed
    assert browser.http.cookies.get("anima_refresh") != old_refresh


async def test_a_parallel_request_with_the_rotated_refresh_token_keeps_the_session(client, browser: Browser):
    org = await signup(client)
    await browser.login(org.owner_email)
    stale_refresh = browser.http.cookies.get("anima_refresh")
    browser.http.cookies.delete("anima_access")
    assert (await browser.get(f"/o/{org.slug}/")).status_code == 200
    # a request sent before the first answer arrived carries the old refresh token
    browser.http.cookies.delete("anima_access")
    fresh_refresh = browser.http.cookies.get("anima_refresh")
    browser.http.cookies.set("anima_refresh", stale_refresh)
    page = await browser.get(f"/o/{org.slug}/")
    assert page.status_code == 200
    assert "anima_refresh" not in _set_cookies(page)  # only a new access token
    browser.http.cookies.set("anima_refresh", fresh_refresh)
    assert (await browser.get(f"/o/{org.slug}/")).status_code == 200


async def test_logout_ends_the_session_and_logout_everywhere_ends_every_session(client, browser: Browser, other_browser: Browser):
    org = await signup(client)
    await browser.login(org.owner_email)
    await other_browser.login(org.owner_email)
    token = await browser.csrf(f"/o/{org.slug}/")
    response = await browser.http.post("/logout/everywhere", data={"_csrf_token": token})
    assert response.status_code == 303
    assert (await browser.get(f"/o/{org.slug}/")).status_code == 303
    # the other browser's access cookie is still a valid JWT, but its session is revoked
    assert (await other_browser.get(f"/o/{org.slug}/")).status_code == 303


async def test_the_api_ignores_session_cookies(client, browser: Browser):
    org = await signup(client)
    await browser.login(org.owner_email)
    response = await browser.get("/api/v1/me")
    assert response.status_code == 401


async def test_the_plans_page_reads_the_catalog(browser: Browser):
    from anima.billing.plans import CATALOG

    page = await browser.get("/", headers={"accept-language": "ca-ES,ca;q=0.9"})
    assert page.status_code == 200
    assert '<html lang="ca">' in page.text
    for plan in CATALOG.values():
        assert plan.tier in page.text
        assert re.search(rf">{plan.limits['patients']}<", page.text)
