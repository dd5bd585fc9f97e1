"""A prospect opens the practice's public intake (the address its QR code points to) on a phone, in
Spanish, and fills it; a lead appears in NEW as a public-form lead on the owner's board; the owner
qualifies it with the keyboard-operable move form and converts it, and the new record shows the
mapped details and the submission in its journal. Then three PHQ-9 results for that person are
drawn as the chart on the person's page. Screenshots and axe-core on each page."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser.conftest import ARTIFACTS, PHONE, Server, visit_check
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser


def _org(server: Server) -> tuple[str, str, dict[str, str]]:
    slug, email = unique_slug("intake"), unique_email("owner")
    response = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Casa Calma", "slug": slug, "email": email, "password": PASSWORD,
        "display_name": "Marta Soler", "tier": "PRO",
    }, timeout=30)
    assert response.status_code == 201, response.text
    return slug, email, {"Authorization": f"Bearer {response.json()['tokens']['access_token']}"}


def _public_path(base: str, headers: dict[str, str], template: str, language: str) -> str:
    form = httpx.post(f"{base}/forms/system", json={"template": template, "language": language}, headers=headers, timeout=30).json()
    switched = httpx.post(f"{base}/forms/{form['id']}/public-link", headers=headers, timeout=30)
    assert switched.status_code == 200, switched.text
    return "/" + switched.json()["public_url"].split("/", 3)[3]


def test_a_prospect_fills_the_public_intake_and_becomes_a_qualified_lead_then_a_record(new_page, server: Server, request):
    slug, email, headers = _org(server)
    base = f"{server.base}/api/v1/orgs/{slug}"
    intake = _public_path(base, headers, "intake", "es")

    prospect = new_page(locale="es-ES")
    prospect.set_viewport_size({"width": PHONE, "height": 844})
    prospect.goto(intake)
    assert prospect.locator("html").get_attribute("lang") == "es"
    visit_check(prospect, "intake-es", request=request)
    prospect.locator("#f-first_name").fill("Lucía")
    prospect.locator("#f-last_name").fill("Mar")
    prospect.locator("#f-email").fill("lucia.mar@example.org")
    prospect.locator("#f-phone").fill("+34 612 34 56 78")
    prospect.locator("#f-reason").fill("Dormir mejor")
    prospect.get_by_role("button", name="Enviar mis respuestas").click()
    assert prospect.locator("h1").inner_text() == "Gracias"

    leads = httpx.get(f"{base}/leads", headers=headers, timeout=30).json()["items"]
    assert [(lead["stage"], lead["source"]) for lead in leads] == [("NEW", "PUBLIC_FORM")]
    lead_id = leads[0]["id"]

    owner = new_page()
    owner.goto("/login")
    owner.get_by_label("Email").fill(email)
    owner.get_by_label("Password").fill(PASSWORD)
    owner.get_by_role("button", name="Log in").click()
    owner.wait_for_url(re.compile(rf"/o/{slug}/?$"))
    owner.goto(f"/o/{slug}/leads")
    card = owner.locator(f'.board-column[data-stage="NEW"] #lead-{lead_id}')
    assert "Lucía" in card.inner_text() and "Public form" in card.inner_text()
    card.locator("details.move summary").focus()
    owner.keyboard.press("Enter")
    card.locator("select[name=stage]").select_option("QUALIFIED")
    card.locator("form[data-move] button[type=submit]").focus()
    owner.keyboard.press("Enter")
    owner.locator(f'.board-column[data-stage="QUALIFIED"] #lead-{lead_id}').wait_for()
    visit_check(owner, "board-qualified", request=request)
    owner.locator(f"#lead-{lead_id} h3 a").click()
    owner.get_by_role("button", name="Convert into a record").click()
    owner.wait_for_url(re.compile(rf"/o/{slug}/people/[0-9a-f-]+$"))
    person_path = "/" + owner.url.split("/", 3)[3]
    body = owner.locator("main").inner_text()
    assert "Lucía" in body and "Mar" in body and "lucia.mar@example.org" in body
    assert owner.locator("#journal").inner_text().count("Dormir mejor") >= 1  # the submission is in the journal

    # three PHQ-9 results for the same person, each through its one-time link
    patient_id = person_path.rsplit("/", 1)[1]
    phq9 = httpx.post(f"{base}/forms/system", json={"template": "phq9", "language": "es"}, headers=headers, timeout=30).json()
    for level in ("3", "2", "1"):
        link = httpx.post(f"{base}/forms/{phq9['id']}/assignments", json={"patient_id": patient_id}, headers=headers, timeout=30).json()
        prospect.goto("/" + link["url"].split("/", 3)[3])
        for item in range(1, 10):
            prospect.locator(f'input[name="item_{item}"][value="{level if item < 9 else "0"}"]').check()
        prospect.get_by_role("button", name="Enviar mis respuestas").click()
        assert prospect.locator("h1").inner_text() == "Gracias"
    owner.reload()  # the owner is still on the person's page
    chart = owner.locator("#measure-phq9")
    chart.scroll_into_view_if_needed()
    assert chart.locator("circle.chart-dot").count() == 3 and chart.locator("polyline.chart-line").count() == 1
    assert "8 of 27" in chart.inner_text()
    chart.locator("details summary").click()
    assert chart.locator("tbody tr").count() == 3
    visit_check(owner, "person-measures", request=request)
    folder = ARTIFACTS / "measures-chart"  # the chart alone, to look at
    folder.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        owner.emulate_media(color_scheme=scheme)
        owner.locator("#measures").screenshot(path=str(folder / f"phq9-{scheme}.png"))
    owner.emulate_media(color_scheme="light")
    assert not server.notes, server.notes
