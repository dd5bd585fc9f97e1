"""A new visitor's first minutes in a real browser: the plans, the language picker, login, the workspace."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser.conftest import Server, visit_check
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser


def _signup_by_api(server: Server, tier: str = "BUILDER") -> tuple[str, str]:
    slug, email = unique_slug("first"), unique_email("owner")
    response = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Quiet Harbour Therapy", "slug": slug, "email": email, "password": PASSWORD,
        "display_name": "Dana Ortiz", "tier": tier,
    }, timeout=30)
    assert response.status_code == 201, response.text
    return slug, email


def test_plans_language_and_login_to_the_workspace(page, server: Server, request):
    slug, email = _signup_by_api(server)
    page.goto("/")
    assert page.locator("h1").inner_text() == "Your practice, calm and in one place"
    assert page.locator(".plan").count() == 3
    visit_check(page, "home-en", request=request)

    page.get_by_role("link", name="català").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("html").get_attribute("lang") == "ca"
    assert page.locator("h1").inner_text() == "La teva consulta, amb calma i en un sol lloc"
    text = page.locator("main").inner_text()
    assert "Persones ateses" in text and "People in care" not in text and "Risk alerts" not in text
    visit_check(page, "home-ca", request=request)

    page.goto("/login")
    page.get_by_label("Correu electrònic").fill(email)
    page.get_by_label("Contrasenya").fill("wrong-password")
    page.get_by_role("button", name="Inicia la sessió").click()
    assert page.get_by_label("Correu electrònic").input_value() == email  # nothing typed is lost
    visit_check(page, "login-error-ca", request=request)

    page.get_by_label("Contrasenya").fill(PASSWORD)
    page.get_by_role("button", name="Inicia la sessió").click()
    page.wait_for_url(re.compile(rf"/o/{slug}/?$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Today"  # the organization speaks English
    visit_check(page, "dashboard", request=request)
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["anima_access"]["httpOnly"] and cookies["anima_access"]["sameSite"] == "Lax"

    page.locator("details.user-menu summary").click()
    page.get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url(re.compile(r"/login"))
    page.goto(f"/o/{slug}/")
    assert "/login?next=" in page.url
    assert not server.notes, server.notes


def test_the_workspace_works_from_the_keyboard(page, server: Server, request):
    """Skip link first, labelled fields in order, Enter submits, menus open with Enter and close with Escape."""
    slug, email = _signup_by_api(server)
    page.goto("/login")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.className")
    assert "skip-link" in focused
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.get_by_label("Email").focus()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.name") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/o/{slug}/?$"))
    menu = page.locator("details.user-menu")
    menu.locator("summary").focus()
    ring = page.evaluate("() => getComputedStyle(document.activeElement).outlineWidth")
    assert ring == "2px"  # the focus ring of the design tokens
    page.keyboard.press("Enter")
    assert menu.get_attribute("open") is not None
    visit_check(page, "user-menu-open", request=request)
    page.keyboard.press("Escape")
    assert menu.get_attribute("open") is None
    # every link of the navigation is reachable and named
    links = page.locator("nav.sidebar a")
    assert links.count() >= 5
    for i in range(links.count()):
        assert links.nth(i).inner_text().strip()
