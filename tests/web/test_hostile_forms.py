"""Hostile input to the public forms: each gets a clear 4xx, never a 500, and nobody is signed in."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, signup
from tests.web.conftest import Browser


@pytest.mark.parametrize(
    "data",
    [
        {"email": "a\x00b@example.org", "password": PASSWORD},
        {"email": "x" * 10_000 + "@example.org", "password": PASSWORD},
        {"email": "someone@example.org", "password": "p" * 5_000},
        {"email": ["one@example.org", "two@example.org"], "password": PASSWORD},
        {"password": PASSWORD},
        {},
    ],
    ids=["nul", "huge-email", "huge-password", "two-values", "no-email", "empty"],
)
async def test_login_refuses_hostile_input_with_a_4xx(browser: Browser, data):
    response = await browser.submit("/login", data)
    assert 400 <= response.status_code < 500, response.text
    assert "anima_access" not in response.headers.get("set-cookie", "")
    assert "\x00" not in response.text


async def test_invalid_utf8_in_a_form_body_is_a_4xx(browser: Browser):
    token = await browser.csrf("/login")
    body = b"email=%FF%FE%FA&password=x&_csrf_token=" + token.encode()
    response = await browser.http.post("/login", content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert 400 <= response.status_code < 500


async def test_a_nul_character_is_named_beside_its_field(client, browser: Browser):
    org = await signup(client)
    response = await browser.submit("/login", {"email": org.owner_email + "\x00", "password": PASSWORD})
    assert response.status_code == 422
    assert 'id="e-email"' in response.text
    assert 'aria-invalid="true"' in response.text


async def test_unknown_language_and_hostile_next_on_the_language_picker(browser: Browser):
    response = await browser.get("/language/xx", params={"next": "//evil.example"})
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "anima_lang=en" in response.headers["set-cookie"]


async def test_production_cookies_are_secure_and_host_prefixed(settings, db):
    import httpx
    import msgspec

    from anima.app import create_app
    from anima.identity.rate_limit import RateLimits

    production = msgspec.structs.replace(settings, env="production")
    app = create_app(production, database=db, rate_limits=RateLimits().scaled(1000))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver", follow_redirects=False) as http:
        api = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=api, base_url="https://testserver") as api_client:
            org = await signup(api_client)
        browser = Browser(http)
        first = await browser.get("/login")
        csrf_cookie = next(h for h in first.headers.get_list("set-cookie") if h.startswith("__Host-anima_csrf="))
        assert "secure" in csrf_cookie.lower() and "httponly" in csrf_cookie.lower()
        response = await browser.submit("/login", {"email": org.owner_email, "password": PASSWORD})
        assert response.status_code == 303, response.text
        headers = response.headers.get_list("set-cookie")
        for name in ("__Host-anima_access", "__Host-anima_refresh"):
            cookie = next(h for h in headers if h.startswith(name + "="))
            lowered = cookie.lower()
            assert "secure" in lowered and "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
            assert "domain=" not in lowered
        assert "strict-transport-security" in response.headers
