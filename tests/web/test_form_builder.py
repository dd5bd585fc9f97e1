"""The form builder over HTTP: roles and plans, add/remove/move, the preview (the fill page's own
template), saving through the forms' service (errors beside the right field, typed values kept)
and the version history."""

from __future__ import annotations

import re

from tests.conftest import add_member, bearer, signup
from tests.integration.events_support import in_tenant
from tests.web.conftest import Browser


async def owner_browser(client, browser: Browser, tier: str = "PRO"):
    org = await signup(client, tier=tier)
    await browser.login(org.owner_email)
    return org


def builder_values(**extra) -> dict:
    values = {
        "title": "Bienestar", "language": "es", "intro": "Unas preguntas",
        "f0.key": "mood", "f0.type": "scale", "f0.label": "¿Cómo estás?", "f0.scale_min": "1", "f0.scale_max": "5",
        "f0.scale_low": "mal", "f0.scale_high": "bien", "f0.required": "yes",
        "f1.key": "sleep", "f1.type": "single_choice", "f1.label": "¿Duermes bien?", "f1.options": "Sí\nA veces\nno | No",
        "f1.scale_min": "0", "f1.scale_max": "10",
    }
    values.update(extra)
    return values


async def test_roles_and_the_plan_decide_who_builds(client, browser: Browser, other_browser: Browser, db):
    org = await owner_browser(client, browser, tier="BUILDER")
    page = await browser.get(f"/o/{org.slug}/forms/new")
    assert page.status_code == 200
    assert "PRO" in page.text and 'id="builder"' not in page.text and "PHQ-9" in page.text  # the upsell and the system templates
    refused = await browser.submit(f"/o/{org.slug}/forms/new", builder_values(action="save"), form_page=f"/o/{org.slug}/forms")
    assert refused.status_code == 403
    assert await in_tenant(db, org.slug, "SELECT id FROM forms") == []

    pro = await signup(client, tier="PRO")
    email, _, _ = await add_member(client, db, pro, "THERAPIST")
    await other_browser.login(email)
    assert (await other_browser.get(f"/o/{pro.slug}/forms/new")).status_code == 403
    listed = await other_browser.get(f"/o/{pro.slug}/forms")
    assert listed.status_code == 200 and "/forms/new" not in listed.text


async def test_add_move_remove_keep_what_was_typed(client, browser: Browser):
    org = await owner_browser(client, browser)
    url = f"/o/{org.slug}/forms/new"
    added = await browser.submit(url, builder_values(new_type="yes_no", action="add"))
    assert added.status_code == 200
    assert 'name="f2.type"' in added.text and re.search(r'<option value="yes_no" selected>', added.text)
    assert 'value="¿Cómo estás?"' in added.text and "A veces" in added.text  # nothing typed is lost
    moved = await browser.submit(url, builder_values(action="down:0"))
    first = moved.text.index('name="f0.label"')
    assert moved.text[first:first + 80].count("¿Duermes bien?") == 1  # the choice is now first
    assert re.search(r'value="up:1"[^>]*autofocus', moved.text)  # the keyboard stays on the moved question
    removed = await browser.submit(url, builder_values(action="remove:0"))
    assert 'name="f1.label"' not in removed.text and 'value="¿Duermes bien?"' in removed.text


async def test_the_preview_is_the_fill_pages_template(client, browser: Browser):
    org = await owner_browser(client, browser)
    token = await browser.csrf(f"/o/{org.slug}/forms/new")
    preview = await browser.http.post(f"/o/{org.slug}/forms/builder/preview", data=builder_values(), headers={"x-csrftoken": token, "HX-Request": "true"})
    assert preview.status_code == 200
    html = preview.text
    assert "Bienestar" in html and "Unas preguntas" in html and "mal — bien" in html
    assert [int(v) for v in re.findall(r'type="radio" name="mood_0" value="(-?\d+)"', html)] == [1, 2, 3, 4, 5]
    assert re.findall(r'name="sleep_1" value="(\w+)"', html) == ["si", "a_veces", "no"]
    assert "Las preguntas marcadas con * necesitan respuesta." in html or "*" in html
    assert "_csrf_token" not in html and 'type="submit"' not in html  # the preview sends nothing
    # a half-typed field still previews (the save tells what is wrong)
    broken = await browser.http.post(f"/o/{org.slug}/forms/builder/preview", data=builder_values(**{"f0.scale_max": "x", "f1.label": ""}),
                                     headers={"x-csrftoken": token})
    assert broken.status_code == 200 and "…" in broken.text


async def test_save_shows_errors_beside_fields_and_versions_are_listed(client, browser: Browser, db):
    org = await owner_browser(client, browser)
    url = f"/o/{org.slug}/forms/new"
    shape = await browser.submit(url, builder_values(**{"f0.key": "Mood!"}, action="save"))
    assert shape.status_code == 422 and 'id="e-0-key"' in shape.text and 'value="Mood!"' in shape.text
    bad = await browser.submit(url, builder_values(**{"f1.options": "Solo una", "f0.scale_max": "1"}, action="save"))
    assert bad.status_code == 422
    for name in ("f0-scale_max", "f1-options"):
        i, input_name = name.split("-")
        assert f'id="e-{i[1:]}-{input_name}"' in bad.text, name
    assert "Solo una" in bad.text and "The highest value must be greater than the lowest." in bad.text
    hostile = await browser.submit(url, builder_values(title="Bien\x00estar", action="save"))
    assert hostile.status_code == 422 and 'id="e-title"' in hostile.text
    spanish = await browser.submit(url, builder_values(**{"f1.type": "email", "f1.maps_to": "phone"}, action="save"),
                                   headers={"Accept-Language": "es"})
    assert spanish.status_code == 422

    saved = await browser.submit(url, builder_values(action="save"))
    assert saved.status_code == 303, saved.text
    edit_url = saved.headers["location"].split("?")[0]
    rows = await in_tenant(db, org.slug, "SELECT key, current_version FROM forms")
    assert rows == [("bienestar", 1)]
    version = (await in_tenant(db, org.slug, "SELECT definition FROM form_versions"))[0][0]
    assert [f["type"] for f in version["fields"]] == ["scale", "single_choice"]
    assert version["fields"][0]["scale_labels"] == ["mal", "bien"] and version["fields"][1]["options"][2] == {"value": "no", "label": "No"}

    page = await browser.get(saved.headers["location"])
    assert page.status_code == 200 and 'value="¿Cómo estás?"' in page.text and "Sí\nA veces\nNo</textarea>" in page.text
    second = await browser.submit(edit_url, builder_values(title="Bienestar 2", action="save"))
    assert second.status_code == 303
    history = await browser.get(edit_url)
    assert "Bienestar 2" in history.text and re.search(r"Current", history.text)
    assert await in_tenant(db, org.slug, "SELECT version FROM form_versions ORDER BY version") == [(1,), (2,)]
    # a system template's copy is not edited here
    phq9 = await client.post(f"/api/v1/orgs/{org.slug}/forms/system", json={"template": "phq9", "language": "es"}, headers=org.headers)
    assert (await browser.get(f"/o/{org.slug}/forms/{phq9.json()['id']}/edit")).status_code == 409
