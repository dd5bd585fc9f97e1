"""The Soul Record in a real browser: a therapist writes a journal entry in the rich-text editor,
signs and amends it; an assistant on the same person finds no clinical content anywhere; then the
same steps in Spanish and in Catalan, with no English left on the pages."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from anima.web.i18n import gettext
from tests.browser.conftest import Server, visit_check
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser

#: English headings and words of the clinical parts, with which the other languages are checked
ENGLISH = ("Clinical profile", "Journal", "AI analyses", "Write a journal entry", "Details", "Consent to AI processing",
           "Sign and lock", "Amend this entry", "Risk and safety")


def _api(server: Server, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, f"{server.base}{path}", headers=headers, timeout=30, **kw)


def _practice(server: Server) -> dict[str, Any]:
    """An organization (PRO) with its owner, a therapist, an assistant and one patient, made through the API."""
    slug, owner = unique_slug("soul"), unique_email("owner")
    signup = _api(server, "POST", "/api/v1/signup", json={
        "organization_name": "Casa Serena", "slug": slug, "email": owner, "password": PASSWORD,
        "display_name": "Marta Soler", "tier": "PRO",
    })
    assert signup.status_code == 201, signup.text
    token = signup.json()["tokens"]["access_token"]
    people = {"owner": owner}
    for role, name in (("THERAPIST", "Jordi Vidal"), ("ASSISTANT", "Laia Puig")):
        email = unique_email(role.lower())
        invited = _api(server, "POST", f"/api/v1/orgs/{slug}/invitations", token, json={"email": email, "role": role})
        assert invited.status_code == 201, invited.text
        invitation = server.emails_to(email)[0].rsplit(": ", 1)[1].strip()
        accepted = _api(server, "POST", "/api/v1/invitations/accept", json={"token": invitation, "password": PASSWORD, "display_name": name})
        assert accepted.status_code == 200, accepted.text
        people[role] = email
    patient = _api(server, "POST", f"/api/v1/orgs/{slug}/patients", token, json={"first_name": "Nuria", "last_name": "Camps"})
    assert patient.status_code == 201, patient.text
    return {"slug": slug, "token": token, "people": people, "patient": patient.json()["id"]}


def _login(page: Any, email: str, target: str) -> None:
    page.goto(f"/login?next={target}")
    page.locator("#f-email").fill(email)
    page.locator("#f-password").fill(PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(re.compile(re.escape(target) + r"$"))


def _write_sign_amend(page: Any, request: Any, language: str, person_url: str, words: str) -> str:
    """In ``language``: write ``words`` (one of them bold) in pell, save, sign, amend; returns the entry id."""
    t = lambda s: gettext(language, s)  # noqa: E731 - the page's words in its language
    page.goto(person_url)
    assert page.get_by_role("heading", level=2, name=t("Journal")).is_visible()
    if language == "en":
        visit_check(page, f"person-therapist-{language}", request=request)
    new_entry = page.locator("details.new-entry")
    if new_entry.get_attribute("open") is None:
        new_entry.locator("summary").click()
    editor = new_entry.locator(".pell-content")
    editor.click()
    page.keyboard.type(f"{words} ")
    new_entry.get_by_role("button", name=t("Bold")).click()
    page.keyboard.type("important")
    new_entry.get_by_role("button", name=t("Bold")).click()
    page.keyboard.type(" today.")
    assert new_entry.locator("textarea[name=html]").is_hidden()  # pell replaced the plain textarea
    new_entry.get_by_role("button", name=t("Save the entry")).click()
    page.wait_for_url(re.compile(r"done=entry#entry-"))
    entry_id = page.url.rsplit("#entry-", 1)[1]
    entry = page.locator(f"#entry-{entry_id}")
    assert words in entry.locator(".journal-text").inner_text()
    assert entry.locator(".journal-text b, .journal-text strong").inner_text() == "important"
    assert t("Draft, not signed") in entry.inner_text()
    if language == "en":
        visit_check(page, f"entry-saved-{language}", request=request)

    entry.get_by_role("button", name=t("Sign and lock")).click()
    page.wait_for_url(re.compile(r"done=signed"))
    entry = page.locator(f"#entry-{entry_id}")
    assert t("Draft, not signed") not in entry.inner_text()
    entry.locator("details summary").click()
    entry.get_by_label(t("Reason for the amendment")).fill(f"{words} — {t('Reason:')} 2")
    entry.locator(".pell-content").click()
    page.keyboard.type(f"Amended {words}")
    entry.get_by_role("button", name=t("Add the amendment")).click()
    page.wait_for_url(re.compile(r"done=amended"))
    entry = page.locator(f"#entry-{entry_id}")
    assert f"Amended {words}" in entry.locator(".amendments").inner_text()
    assert words in entry.locator(".journal-text").first.inner_text()  # the signed original stays
    visit_check(page, f"entry-amended-{language}", request=request)
    return entry_id


def _assistant_sees_nothing_clinical(page: Any, request: Any, language: str, slug: str, person_url: str, secrets: list[str]) -> None:
    t = lambda s: gettext(language, s)  # noqa: E731
    for url, name in ((f"/o/{slug}/people", "people-assistant"), (person_url, "person-assistant")):
        page.goto(url)
        html = page.content()
        for secret in secrets:
            assert secret not in html, (url, secret)
        for word in ("Clinical profile", "Journal", "AI analyses", "Write a journal entry", "Sign and lock"):
            assert t(word) not in page.locator("main").inner_text(), (url, word)
        assert page.locator("a[href*='/journal'], a[href*='/export'], form[action*='/journal'], .pell").count() == 0
        visit_check(page, f"{name}-{language}", request=request)
    page.get_by_role("link", name=gettext(language, "Patients"), exact=True).first.click()
    page.wait_for_url(re.compile(rf"/o/{slug}/people$"))


def test_a_therapist_writes_signs_and_amends_and_an_assistant_sees_none_of_it(new_page, server: Server, request):
    practice = _practice(server)
    slug, people = practice["slug"], practice["people"]
    person_url = f"/o/{slug}/people/{practice['patient']}"
    therapist, assistant = new_page(), new_page()

    _login(therapist, people["THERAPIST"], f"/o/{slug}/people")
    assert therapist.get_by_role("heading", level=1).inner_text() == "Patients"
    visit_check(therapist, "people-therapist-en", request=request)
    therapist.get_by_role("link", name="Nuria Camps").click()
    therapist.wait_for_url(re.compile(re.escape(person_url) + r"$"))
    secrets = []
    for language, words in (("en", "Quiet morning walk"), ("es", "Paseo tranquilo"), ("ca", "Passeig tranquil")):
        if language != "en":
            changed = _api(server, "PATCH", f"/api/v1/orgs/{slug}/settings", practice["token"], json={"locale": language})
            assert changed.status_code == 200, changed.text
        _write_sign_amend(therapist, request, language, person_url, words)
        secrets += [words, f"Amended {words}", "important"]
        if language != "en":
            main = therapist.locator("main").inner_text()
            for english in ENGLISH:
                if gettext(language, english) != english:
                    assert english not in main, (language, english)
            assert gettext(language, "Journal") in main and gettext(language, "Clinical profile") in main
        if language == "en":
            _login(assistant, people["ASSISTANT"], f"/o/{slug}/people")
        _assistant_sees_nothing_clinical(assistant, request, language, slug, person_url, secrets)
    _owner_adds_a_person_and_reads_the_trail(new_page(), request, "ca", slug, people["owner"])
    assert not server.notes, server.notes


def _owner_adds_a_person_and_reads_the_trail(page: Any, request: Any, language: str, slug: str, email: str) -> None:
    """The owner (in the organization's language): the list, the new-person form with an error, the
    new person's page with the owner's record actions, and its audit trail."""
    t = lambda s: gettext(language, s)  # noqa: E731
    _login(page, email, f"/o/{slug}/people")
    visit_check(page, f"people-owner-{language}", request=request)
    page.get_by_role("link", name=t("New patient")).first.click()
    page.wait_for_url(re.compile(r"/people/new$"))
    visit_check(page, f"new-person-{language}", request=request)
    page.get_by_label(t("Last name"), exact=True).fill("Ferrer")
    page.get_by_label(t("Phone"), exact=True).fill("12")
    page.get_by_role("button", name=t("Add the patient")).click()
    assert page.get_by_label(t("Last name"), exact=True).input_value() == "Ferrer"  # nothing typed is lost
    assert page.locator("#e-phone").is_visible()
    visit_check(page, f"new-person-error-{language}", request=request)
    page.locator("#f-first_name").fill("Pol")
    page.get_by_label(t("Phone"), exact=True).fill("+34 600 000 000")
    page.get_by_role("button", name=t("Add the patient")).click()
    page.wait_for_url(re.compile(r"/people/[0-9a-f-]{36}\?done=created$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Pol Ferrer"
    assert page.get_by_role("heading", level=2, name=t("Record")).is_visible()
    visit_check(page, f"person-owner-{language}", request=request)
    page.get_by_role("link", name=t("Audit trail: who read or changed this record")).click()
    page.wait_for_url(re.compile(r"/audit$"))
    assert t("Record created") in page.locator("main").inner_text()
    visit_check(page, f"audit-{language}", request=request)
