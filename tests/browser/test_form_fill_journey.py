"""A patient answers an assigned PHQ-9 on a phone, in Spanish, in a real browser; an answer that is
missing is named beside its question and nothing typed is lost; item 9 above 0 alerts the owner."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser.conftest import PHONE, Server, visit_check
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser


def _api(server: Server) -> tuple[str, dict[str, str], str, str]:
    slug, email = unique_slug("fill"), unique_email("owner")
    response = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Casa Calma", "slug": slug, "email": email, "password": PASSWORD,
        "display_name": "Marta Soler", "tier": "BUILDER",
    }, timeout=30)
    assert response.status_code == 201, response.text
    headers = {"Authorization": f"Bearer {response.json()['tokens']['access_token']}"}
    return slug, headers, response.json()["user_id"], email


def test_a_patient_answers_an_assigned_phq9_on_a_phone(new_page, server: Server, request):
    slug, headers, _, email = _api(server)
    base = f"{server.base}/api/v1/orgs/{slug}"
    patient = httpx.post(f"{base}/patients", json={"first_name": "Lucía", "last_name": "Vidal", "language": "es"}, headers=headers, timeout=30).json()
    form = httpx.post(f"{base}/forms/system", json={"template": "phq9", "language": "es"}, headers=headers, timeout=30).json()
    link = httpx.post(f"{base}/forms/{form['id']}/assignments", json={"patient_id": patient["id"]}, headers=headers, timeout=30).json()
    path = "/" + link["url"].split("/", 3)[3]

    page = new_page(locale="es-ES")
    page.set_viewport_size({"width": PHONE, "height": 844})
    page.goto(path)
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("h1").inner_text().startswith("PHQ-9")
    visit_check(page, "phq9-es", request=request)
    for item in range(1, 9):
        page.locator(f'input[name="item_{item}"][value="1"]').check()
    page.get_by_role("button", name="Enviar mis respuestas").click()
    assert page.locator("#e-item_9").inner_text() == "Responde a esta pregunta."
    assert page.locator('input[name="item_3"][value="1"]').is_checked()  # nothing answered is lost
    visit_check(page, "phq9-es-missing-item-9", request=request)
    page.locator('input[name="item_9"][value="2"]').check()
    page.get_by_role("button", name="Enviar mis respuestas").click()
    assert page.locator("h1").inner_text() == "Gracias"
    visit_check(page, "phq9-es-thanks", request=request)
    page.goto(path)
    assert page.locator("h1").inner_text() == "Este enlace ya se ha usado"

    alerts = httpx.get(f"{base}/alerts", headers=headers, timeout=30).json()
    items = alerts["items"] if isinstance(alerts, dict) else alerts
    assert any(a.get("source_kind") == "form_submission" and a.get("severity") == "critical" for a in items), items
    series = httpx.get(f"{base}/patients/{patient['id']}/measures/phq9", headers=headers, timeout=30).json()
    assert [p["total"] for p in series["points"]] == [10] and series["points"][0]["risk_flag"] is True

    # the owner's forms pages: the share panel with its QR code, and the score with item 9 flagged
    owner = new_page()
    owner.goto("/login")
    owner.get_by_label("Email").fill(email)
    owner.get_by_label("Password").fill(PASSWORD)
    owner.get_by_role("button", name="Log in").click()
    owner.wait_for_url(re.compile(rf"/o/{slug}/?$"))
    owner.goto(f"/o/{slug}/forms")
    assert owner.get_by_role("heading", level=1).inner_text() == "Forms"
    visit_check(owner, "forms-list", request=request)
    owner.get_by_role("link", name=form["title"]).click()
    owner.get_by_role("button", name="Switch the public link on").click()
    assert owner.locator("#f-public-url").input_value().endswith(tuple("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"))
    assert owner.locator("img[src$='qr.svg']").evaluate(
        "img => img.complete ? img.naturalWidth : new Promise(done => { img.onload = () => done(img.naturalWidth); })"
    ) > 0  # waits for the image under load
    assert "10 · moderate" in owner.locator("main").inner_text() and owner.locator(".badge-risk").count() == 1
    visit_check(owner, "form-share-and-answers", request=request)
    assert not server.notes, server.notes
