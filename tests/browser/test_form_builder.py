"""An owner builds a form in the browser: a scale and a single choice, the preview updating as they
type (the fill page's own template), saved as version 1; the public link shows the same fields."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser.conftest import PHONE, Server, visit_check
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser


def test_an_owner_builds_a_form_and_the_public_link_shows_it(new_page, server: Server, request):
    slug, email = unique_slug("build"), unique_email("owner")
    signed = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Casa Calma", "slug": slug, "email": email, "password": PASSWORD,
        "display_name": "Marta Soler", "tier": "PRO",
    }, timeout=30)
    assert signed.status_code == 201, signed.text
    headers = {"Authorization": f"Bearer {signed.json()['tokens']['access_token']}"}

    page = new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(rf"/o/{slug}/?$"))
    page.goto(f"/o/{slug}/forms")
    page.get_by_role("link", name="Build a form").click()
    page.wait_for_url(re.compile(r"/forms/new$"))
    preview = page.locator("#preview")

    page.get_by_label("Title").fill("Check-in semanal")
    page.locator("#b-language").select_option("es")
    # question 1: a scale from 1 to 5
    page.locator("#b-0-type").select_option("scale")
    page.locator("#b-0-scale_min").wait_for()  # the type's own settings appear (HTMX swaps the fields in)
    assert page.locator("#b-0-options").count() == 0
    page.locator("#b-0-label").fill("¿Cómo te sientes hoy?")
    page.locator("#b-0-scale_min").fill("1")
    page.locator("#b-0-scale_max").fill("5")
    page.locator("#b-0-scale_low").fill("mal")
    page.locator("#b-0-scale_high").fill("muy bien")
    page.locator("input[name='f0.required']").check()
    # the preview follows, rendered by the server in the form's language
    preview.get_by_text("mal — muy bien").wait_for()
    assert "¿Cómo te sientes hoy?" in preview.inner_text()
    assert preview.locator("input[type=radio]").count() == 5
    assert "Enviar mis respuestas" in preview.inner_text()

    # question 2: a single choice, added with the keyboard
    page.locator("#b-new_type").select_option("single_choice")
    page.get_by_role("button", name="Add a question").press("Enter")
    page.locator("#b-1-label").wait_for()
    assert page.evaluate("document.activeElement.id") == "b-1-label"  # the new question's label has the focus
    page.locator("#b-1-label").fill("¿Has dormido bien?")
    page.locator("#b-1-options").fill("Sí\nRegular\nNo")
    preview.get_by_text("¿Has dormido bien?").wait_for()
    preview.get_by_text("Regular").wait_for()
    assert preview.locator("input[type=radio]").count() == 8
    page.set_viewport_size({"width": 1280, "height": 900})
    visit_check(page, "form-builder", request=request)

    # move the choice up with its button; the page keeps everything typed
    page.get_by_role("button", name="Move question 2 up").click()
    page.locator("#b-0-label").wait_for()
    assert page.locator("#b-0-label").input_value() == "¿Has dormido bien?"
    assert page.locator("#b-1-label").input_value() == "¿Cómo te sientes hoy?"
    page.get_by_role("button", name="Move question 1 down").click()
    assert page.locator("#b-0-label").input_value() == "¿Cómo te sientes hoy?"

    # a broken scale is named beside its bound; fixing it saves version 1
    page.locator("#b-0-scale_max").fill("1")
    page.get_by_role("button", name="Create the form").click()
    assert page.locator("#e-0-scale_max").inner_text() == "The highest value must be greater than the lowest."
    assert page.locator("#b-1-options").input_value() == "Sí\nRegular\nNo"
    page.locator("#b-0-scale_max").fill("5")
    page.get_by_role("button", name="Create the form").click()
    page.wait_for_url(re.compile(r"/edit\?saved=1$"))
    assert "Saved as version 1." in page.locator("main").inner_text()
    assert page.get_by_role("table").locator("tbody tr").count() == 1
    page.set_viewport_size({"width": PHONE, "height": 844})
    visit_check(page, "form-builder-saved", request=request)

    # the public link shows the same fields
    form_id = re.search(r"/forms/([0-9a-f-]{36})/edit", page.url).group(1)
    linked = httpx.post(f"{server.base}/api/v1/orgs/{slug}/forms/{form_id}/public-link", headers=headers, timeout=30)
    assert linked.status_code == 200, linked.text
    public = new_page(locale="es-ES")
    public.set_viewport_size({"width": PHONE, "height": 844})
    public.goto("/" + linked.json()["public_url"].split("/", 3)[3])
    assert public.locator("h1").inner_text() == "Check-in semanal"
    assert public.locator("input[name=mood], input[name=q1]").count() == 5 or public.locator("input[type=radio]").count() == 8
    assert public.locator("legend").all_inner_texts()[0].startswith("¿Cómo te sientes hoy?")
    assert [t.strip() for t in public.locator("fieldset").nth(1).locator("label").all_inner_texts()] == ["Sí", "Regular", "No"]
    assert "mal — muy bien" in public.locator("main").inner_text()
    visit_check(public, "form-builder-public", request=request)
    assert not server.notes, server.notes


def test_a_builder_plan_owner_meets_the_upsell_and_the_system_templates(new_page, server: Server, request):
    slug, email = unique_slug("upsell"), unique_email("owner")
    signed = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Casa Petita", "slug": slug, "email": email, "password": PASSWORD,
        "display_name": "Núria Pons", "tier": "BUILDER",
    }, timeout=30)
    assert signed.status_code == 201, signed.text
    page = new_page(locale="ca-ES")
    page.goto("/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(rf"/o/{slug}/?$"))
    page.goto(f"/o/{slug}/forms/new")
    assert page.locator("#builder").count() == 0
    assert "PRO" in page.locator("main").inner_text() and "PHQ-9" in page.locator("main").inner_text()
    visit_check(page, "form-builder-upsell", request=request)
    assert not server.notes, server.notes
