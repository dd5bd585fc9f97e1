"""Signup in the browser: a plan, errors beside the fields, the browser signed in, Checkout for a
paid plan when payments are configured, and the emailed link that confirms the address."""

from __future__ import annotations

from anima.billing.plans import CATALOG
from anima.web.i18n import LANGUAGE_COOKIE
from tests.conftest import PASSWORD, signup, unique_email, unique_slug
from tests.web.account_support import (  # noqa: F401 - fixtures
    emails_to,
    latest_link,
    paid_browser,
    scalar,
    stripe_settings,
    stripe_stub,
)
from tests.web.conftest import Browser


def _form(**changes: str) -> dict[str, str]:
    values = {
        "organization_name": "Quiet Harbour Therapy", "slug": unique_slug("qh"), "display_name": "Dana Ortiz",
        "email": unique_email("dana"), "password": PASSWORD, "tier": "BUILDER",
    }
    values.update(changes)
    return values


async def _nothing_made(db, values: dict[str, str]) -> None:
    assert await scalar(db, "SELECT count(*) FROM platform.tenants WHERE slug = :s", s=values["slug"][:40]) == 0
    assert await scalar(db, "SELECT count(*) FROM platform.users WHERE email = :e", e=values["email"].lower()) == 0


async def test_the_signup_page_preselects_the_tier_and_summarizes_the_plans(browser: Browser):
    page = await browser.get("/signup?tier=PRO")
    assert page.status_code == 200
    assert 'value="PRO" checked' in page.text and 'value="BUILDER" checked' not in page.text
    for plan in CATALOG.values():
        assert f'id="tier-{plan.tier}"' in page.text
        assert f"People in care: {plan.limits['patients']}" in page.text
    assert 'value="BUILDER" checked' in (await browser.get("/signup?tier=nonsense")).text
    assert "Payments are not configured on this server" in page.text  # a development server grants the tier


async def test_signup_signs_in_opens_the_workspace_and_asks_to_confirm_the_email(browser: Browser, db):
    values = _form(tier="PRO")
    response = await browser.submit("/signup", values)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/o/{values['slug']}/"
    assert "anima_access" in browser.http.cookies and "anima_refresh" in browser.http.cookies
    # without payments configured, a development server grants the picked tier (as the API's signup does)
    assert await scalar(db, "SELECT tier FROM platform.tenants WHERE slug = :s", s=values["slug"]) == "PRO"
    workspace = await browser.get(response.headers["location"])
    assert workspace.status_code == 200 and 'id="verify-banner"' in workspace.text
    assert await emails_to(db, values["email"], "verify-email") == 1
    link = await latest_link(db, values["email"], "/verify-email/")
    assert await scalar(db, "SELECT count(*) FROM platform.account_tokens WHERE token_hash = :t", t=link.rsplit("/", 1)[1]) == 0  # only the hash is stored
    confirmed = await browser.get(link)
    assert confirmed.status_code == 200 and "Email confirmed" in confirmed.text and "Thank you" in confirmed.text
    assert await scalar(db, "SELECT email_verified_at IS NOT NULL FROM platform.users WHERE email = :e", e=values["email"])
    assert 'id="verify-banner"' not in (await browser.get(f"/o/{values['slug']}/")).text
    again = await browser.get(link)  # single use: the second visit changes nothing and says so
    assert again.status_code == 200 and "already confirmed" in again.text


async def test_the_address_is_suggested_from_the_name_when_left_empty(browser: Browser, db):
    name = f"Càlma Àrbol {unique_slug('x')[-6:]}"
    response = await browser.submit("/signup", _form(organization_name=name, slug=""))
    assert response.status_code == 303, response.text
    slug = response.headers["location"].split("/")[2]
    assert slug.startswith("calma-arbol-")


async def test_errors_are_shown_beside_the_fields_and_the_values_kept(client, browser: Browser, db):
    values = _form(password="password123")
    response = await browser.submit("/signup", values)
    assert response.status_code == 422
    assert 'id="e-password"' in response.text and "most common passwords" in response.text
    assert f'value="{values["email"]}"' in response.text and f'value="{values["slug"]}"' in response.text
    assert "password123" not in response.text
    await _nothing_made(db, values)

    taken = await signup(client)
    for field, value, sentence in (("email", taken.owner_email, "already exists"), ("slug", taken.slug, "already taken")):
        clash = _form(**{field: value})
        response = await browser.submit("/signup", clash)
        assert response.status_code == 409, response.text
        assert f'id="e-{field}"' in response.text and sentence in response.text
        assert f'value="{clash["display_name"]}"' in response.text

    bad = _form(email="not-an-email", slug="Bad Slug!")
    response = await browser.submit("/signup", bad)
    assert response.status_code == 422 and 'id="e-email"' in response.text and 'id="e-slug"' in response.text


async def test_errors_in_another_language_are_translated(browser: Browser):
    browser.http.cookies.set(LANGUAGE_COOKIE, "es")
    response = await browser.submit("/signup", _form(password="password123"))
    assert response.status_code == 422
    assert "Es una de las contraseñas más comunes" in response.text


async def test_hostile_inputs_are_refused_and_nothing_is_made(browser: Browser, db):
    cases = [
        _form(organization_name="Harbour\x00Therapy"),
        _form(display_name="x" * 10_000),
        _form(organization_name="y" * 10_000),
        _form(tier="abc"),
        _form(tier="PRO\x00"),
        _form(password="p" * 10_000),
        {**_form(), "unexpected": "field"},
    ]
    for values in cases:
        response = await browser.submit("/signup", values)
        assert 400 <= response.status_code < 500, (values, response.status_code)
        assert "anima_access" not in response.headers.get("set-cookie", "")
        await _nothing_made(db, values)
    named = await browser.submit("/signup", _form(organization_name="Harbour\x00Therapy"))
    assert named.status_code == 422 and 'id="e-organization_name"' in named.text and "\x00" not in named.text


async def test_signup_without_the_csrf_token_is_refused(browser: Browser, db):
    values = _form()
    await browser.get("/signup")
    response = await browser.http.post("/signup", data=values)
    assert response.status_code == 403
    await _nothing_made(db, values)


async def test_a_paid_plan_goes_to_checkout_and_stays_on_builder_until_stripe_confirms(paid_browser: Browser, stripe_stub, db):
    page = await paid_browser.get("/signup?tier=CENTER")
    assert "you pay on Stripe's secure page" in page.text
    values = _form(tier="CENTER")
    response = await paid_browser.submit("/signup", values)
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("https://checkout.stripe.com/")
    sent = stripe_stub.calls("/v1/checkout/sessions")[-1]
    assert sent.form["subscription_data[metadata][tier]"] == "CENTER"
    assert sent.form["success_url"].endswith(f"/o/{values['slug']}/billing?checkout=success&session_id={{CHECKOUT_SESSION_ID}}")
    assert await scalar(db, "SELECT tier FROM platform.tenants WHERE slug = :s", s=values["slug"]) == "BUILDER"
    assert "anima_access" in paid_browser.http.cookies  # signed in: Stripe sends the owner back to the workspace
    billing = await paid_browser.get(f"/o/{values['slug']}/billing?checkout=success")
    assert billing.status_code == 200 and "Your plan changes as soon as Stripe confirms it" in billing.text


async def test_a_free_plan_with_payments_configured_goes_straight_to_the_workspace(paid_browser: Browser, db):
    values = _form(tier="BUILDER")
    response = await paid_browser.submit("/signup", values)
    assert response.status_code == 303 and response.headers["location"] == f"/o/{values['slug']}/"


async def test_resending_the_confirmation_link_replaces_the_old_one(browser: Browser, db):
    values = _form()
    await browser.submit("/signup", values)
    first = await latest_link(db, values["email"], "/verify-email/")
    token = await browser.csrf(f"/o/{values['slug']}/")
    response = await browser.http.post("/account/verify-email/resend", data={"_csrf_token": token}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "We sent a new confirmation link" in response.text and "<html" not in response.text
    assert await emails_to(db, values["email"], "verify-email") == 2
    second = await latest_link(db, values["email"], "/verify-email/")
    assert second != first
    old = await browser.get(first)
    assert old.status_code == 410 and "already used or replaced" in old.text
    assert (await browser.get(second)).status_code == 200
    plain = await browser.http.post("/account/verify-email/resend", data={"_csrf_token": token})
    assert plain.status_code == 200 and "already confirmed" in plain.text
    assert await emails_to(db, values["email"], "verify-email") == 2
    unknown = await browser.get("/verify-email/" + "A" * 43)
    assert unknown.status_code == 404 and "not valid" in unknown.text
    browser.http.cookies.clear()
    anonymous = await browser.submit("/account/verify-email/resend", {}, form_page="/login")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


async def test_the_api_signup_sends_the_confirmation_link_too(client, db):
    org = await signup(client)
    assert await emails_to(db, org.owner_email, "verify-email") == 1
