"""The leads board in a real browser: an owner drags a lead from NEW to QUALIFIED, moves another
with the keyboard-operable form, sees freshness as icon and word (a ghost included) and the
WhatsApp link, and converts a lead into a patient whose record holds the lead's details and notes.
Screenshots at phone and desktop width, light and dark, and axe-core on each page."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser.conftest import Server, visit_check
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser


def _signup_with_leads(server: Server) -> tuple[str, str, dict[str, str]]:
    slug, email = unique_slug("leads"), unique_email("owner")
    response = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Casa Calma", "slug": slug, "email": email, "password": PASSWORD, "display_name": "Dana Ortiz",
        "tier": "PRO",
    }, timeout=30)
    assert response.status_code == 201, response.text
    headers = {"Authorization": f"Bearer {response.json()['tokens']['access_token']}"}
    ids = {}
    for first, last, extra in (("Nora", "Puig", {"phone": "+34 655 44 33 22", "source": "AD", "notes": "Asked about groups"}),
                               ("Pau", "Roca", {"email": "pau@example.org", "source": "REFERRAL"}),
                               ("Iris", "Vall", {"source": "SOCIAL"})):
        created = httpx.post(f"{server.base}/api/v1/orgs/{slug}/leads", json={"first_name": first, "last_name": last, **extra},
                             headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        ids[first] = created.json()["id"]
    server.sql("UPDATE {}.leads SET created_at = now() - interval '9 days' WHERE id = %(i)s".format(
        server.sql("SELECT schema_name FROM platform.tenants WHERE slug = %(s)s", {"s": slug})[0][0]), {"i": ids["Iris"]})
    return slug, email, ids


def test_the_owner_works_the_board(page, server: Server, request):
    slug, owner, ids = _signup_with_leads(server)
    page.goto("/login")
    page.locator('input[name="email"]').fill(owner)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('form[action="/login"] button[type="submit"]').click()
    page.wait_for_url(re.compile(rf"/o/{slug}/?$"))
    page.get_by_role("link", name="Leads", exact=True).click()
    page.wait_for_url(re.compile(rf"/o/{slug}/leads$"))
    ghost = page.locator(f"#lead-{ids['Iris']}")
    assert "Ghost" in ghost.inner_text() and ghost.locator(".fresh-ghost").count() == 1
    assert page.locator(f"#lead-{ids['Nora']} a[href^='https://wa.me/34655443322?text=']").count() == 1
    visit_check(page, "board", request=request)

    # drag and drop: Nora from NEW to QUALIFIED
    with page.expect_navigation():
        page.locator(f"#lead-{ids['Nora']}").drag_to(page.locator('.board-column[data-stage="QUALIFIED"]'),
                                                     source_position={"x": 8, "y": 8})
    page.locator(f'.board-column[data-stage="QUALIFIED"] #lead-{ids["Nora"]}').wait_for()

    # the keyboard way: Pau to CONTACTED through the card's own form
    pau = page.locator(f"#lead-{ids['Pau']}")
    pau.locator("details.move summary").focus()
    page.keyboard.press("Enter")
    pau.locator("select[name=stage]").select_option("CONTACTED")
    pau.locator("form[data-move] button[type=submit]").focus()
    page.keyboard.press("Enter")
    page.locator(f'.board-column[data-stage="CONTACTED"] #lead-{ids["Pau"]}').wait_for()
    visit_check(page, "board-moved", request=request)

    # the lead's page, then the conversion
    page.locator(f"#lead-{ids['Nora']} h3 a").click()
    page.wait_for_url(re.compile(rf"/o/{slug}/leads/{ids['Nora']}$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Nora Puig"
    visit_check(page, "lead-detail", request=request)
    page.get_by_role("button", name="Convert into a record").click()
    page.wait_for_url(re.compile(rf"/o/{slug}/people/[0-9a-f-]+$"))
    body = page.locator("main").inner_text()
    assert "Nora" in body and "Puig" in body and "Asked about groups" in body
    page.goto(f"/o/{slug}/leads")
    assert page.locator(f'.board-column[data-stage="CONVERTED"] #lead-{ids["Nora"]}').count() == 1
    visit_check(page, "board-converted", request=request)


#: English words of the board that must not be left on a Catalan board
ENGLISH = ("Leads", "New lead", "Fresh", "Ghost", "Contacted now", "Convert", "Move to", "Social media", "Advert", "Referral",
           "Drag a card", "New", "Contacted", "Qualified", "Converted", "Lost")


def test_the_board_in_catalan(page, server: Server, request):
    slug, owner, ids = _signup_with_leads(server)
    login = httpx.post(f"{server.base}/api/v1/auth/login", json={"email": owner, "password": PASSWORD}, timeout=30)
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert httpx.patch(f"{server.base}/api/v1/orgs/{slug}/settings", json={"locale": "ca"}, headers=headers, timeout=30).status_code == 200
    page.goto("/login")
    page.locator('input[name="email"]').fill(owner)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('form[action="/login"] button[type="submit"]').click()
    page.wait_for_url(re.compile(rf"/o/{slug}/?$"))
    page.goto(f"/o/{slug}/leads")
    assert page.locator("html").get_attribute("lang") == "ca"
    assert page.get_by_role("heading", level=1).inner_text() == "Contactes"
    text = page.locator("main").inner_text()
    left = [w for w in ENGLISH if re.search(rf"(?<![\w·-]){re.escape(w)}(?![\w·-])", text)]
    assert not left, left
    assert "Fantasma" in page.locator(f"#lead-{ids['Iris']}").inner_text()
    visit_check(page, "board-ca", request=request)
