"""Forms end to end over HTTP: templates and versions through the API, the public fill page, one-time
links (used twice, expired, revoked, 20 at once), abuse (rate limit, honeypot, sizes, NUL, invalid
UTF-8), and a PHQ-9 with item 9 above 0 reaching the clinicians as a risk alert."""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx
import pytest

from anima.app import create_app
from anima.identity.rate_limit import Limit, RateLimits
from tests.conftest import add_member, bearer, signup
from tests.integration.events_support import in_tenant
from tests.web.conftest import Browser

CUSTOM = {
    "title": "Welcome",
    "language": "es",
    "fields": [
        {"key": "name", "type": "short_text", "label": "Nombre", "required": True, "maps_to": "first_name"},
        {"key": "mail", "type": "email", "label": "Correo", "maps_to": "email"},
        {"key": "story", "type": "long_text", "label": "Cuéntanos"},
        {"key": "topics", "type": "multiple_choice", "label": "Temas", "options": [{"value": "sleep", "label": "Sueño"}, {"value": "work", "label": "Trabajo"}]},
    ],
}


def api(org, path: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}{path}"


async def new_patient(client, org, **extra) -> str:
    created = await client.post(api(org, "/patients"), json={"first_name": "Ada", "last_name": "Paz", **extra}, headers=org.headers)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def system_form(client, org, template="phq9", language="es") -> dict:
    response = await client.post(api(org, "/forms/system"), json={"template": template, "language": language}, headers=org.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def assign(client, org, form_id: str, patient_id: str, headers=None, **extra) -> dict:
    response = await client.post(api(org, f"/forms/{form_id}/assignments"), json={"patient_id": patient_id, **extra}, headers=headers or org.headers)
    assert response.status_code == 201, response.text
    return response.json()


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


PHQ9_ANSWERS = {f"item_{i}": "1" for i in range(1, 9)}


async def test_builder_uses_system_templates_and_custom_forms_need_the_feature(client):
    org = await signup(client)
    refused = await client.post(api(org, "/forms"), json={"key": "welcome", "definition": CUSTOM}, headers=org.headers)
    assert refused.status_code == 403 and refused.json()["feature"] == "custom_forms" and "custom_forms" in refused.json()["detail"]
    phq9 = await system_form(client, org)
    assert phq9["key"] == "phq9_es" and len(phq9["definition"]["fields"]) == 9 and phq9["definition"]["measure"] == "phq9"
    assert (await system_form(client, org))["id"] == phq9["id"]  # idempotent
    templates = (await client.get(api(org, "/forms/system-templates"), headers=org.headers)).json()
    assert {t["key"] for t in templates} == {"intake", "consent", "phq9", "gad7"}
    assert all(set(t["titles"]) == {"en", "es", "ca", "it"} for t in templates)


async def test_owners_build_versioned_templates_and_a_submission_keeps_its_version(client, browser: Browser, db):
    org = await signup(client, tier="PRO")
    _, therapist, _ = await add_member(client, db, org, "THERAPIST")
    bad = dict(CUSTOM, fields=[*CUSTOM["fields"], {"key": "name", "type": "date", "label": "dup"}])
    invalid = await client.post(api(org, "/forms"), json={"key": "welcome", "definition": bad}, headers=org.headers)
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "fields[4].key"
    by_therapist = await client.post(api(org, "/forms"), json={"key": "welcome", "definition": CUSTOM}, headers=bearer(therapist["access_token"]))
    assert by_therapist.status_code == 403
    reserved = await client.post(api(org, "/forms"), json={"key": "phq9_es", "definition": CUSTOM}, headers=org.headers)
    assert reserved.status_code == 422 and reserved.json()["errors"][0] == {"field": "key", "rule": "reserved", "message": reserved.json()["errors"][0]["message"]}
    created = await client.post(api(org, "/forms"), json={"key": "welcome", "definition": CUSTOM}, headers=org.headers)
    assert created.status_code == 201, created.text
    taken = await client.post(api(org, "/forms"), json={"key": "welcome", "definition": CUSTOM}, headers=org.headers)
    assert taken.status_code == 409 and taken.json()["errors"][0]["field"] == "key"
    form = created.json()
    linked = (await client.post(api(org, f"/forms/{form['id']}/public-link"), headers=org.headers)).json()
    page = await browser.get(path_of(linked["public_url"]))
    assert page.status_code == 200 and '<html lang="es">' in page.text and "Cuéntanos" in page.text
    sent = await browser.submit(path_of(linked["public_url"]), {"name": "Lucía", "mail": "lucia@example.org", "topics": ["sleep", "work"], "_version": "1"})
    assert sent.status_code == 200, sent.text
    edited = dict(CUSTOM, title="Bienvenida", fields=CUSTOM["fields"][:2])
    v2 = await client.put(api(org, f"/forms/{form['id']}/definition"), json={"definition": edited}, headers=org.headers)
    assert v2.status_code == 200 and v2.json()["current_version"] == 2
    v1 = (await client.get(api(org, f"/forms/{form['id']}"), params={"version": 1}, headers=org.headers)).json()
    assert len(v1["definition"]["fields"]) == 4 and v1["definition"]["title"] == "Welcome"
    subs = (await client.get(api(org, "/form-submissions"), params={"form_id": form["id"]}, headers=org.headers)).json()["items"]
    assert len(subs) == 1 and subs[0]["answers"] == {"name": "Lucía", "mail": "lucia@example.org", "topics": ["sleep", "work"]}
    assert subs[0]["person"]["first_name"] == "Lucía" and subs[0]["person"]["email"] == "lucia@example.org"
    version_rows = await in_tenant(db, org.slug, "SELECT v.version FROM form_submissions s JOIN form_versions v ON v.id = s.version_id")
    assert version_rows == [(1,)]
    raw = await in_tenant(db, org.slug, "SELECT answers_enc FROM form_submissions")
    assert b"Luc" not in bytes(raw[0][0])  # encrypted at rest


async def test_phq9_item_9_alerts_clinicians_and_the_front_desk_sees_no_answers(client, browser: Browser, db):
    org = await signup(client, tier="PRO")
    _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    _, therapist, therapist_id = await add_member(client, db, org, "THERAPIST")
    pid = await new_patient(client, org, email="ada@example.org", phone="+34600111222")
    await client.put(api(org, f"/patients/{pid}/therapists"), json={"therapist_ids": [therapist_id]}, headers=org.headers)
    phq9 = await system_form(client, org)
    link = await assign(client, org, phq9["id"], pid, headers=bearer(assistant["access_token"]), send_email=True)  # the front desk assigns
    assert link["state"] == "open" and link["emailed"] is True and link["whatsapp_url"].startswith("https://wa.me/34600111222?text=")
    emails = await in_tenant(db, org.slug, "SELECT template, body FROM outbound_emails")
    assert emails[0][0] == "form_assignment" and link["url"] in emails[0][1]
    page = await browser.get(path_of(link["url"]))
    assert page.status_code == 200 and "Pensamientos de que estaría mejor muerto/a" in page.text
    missing = await browser.submit(path_of(link["url"]), PHQ9_ANSWERS)  # item 9 unanswered
    assert missing.status_code == 422 and 'id="e-item_9"' in missing.text and 'value="1" checked' in missing.text
    sent = await browser.submit(path_of(link["url"]), {**PHQ9_ANSWERS, "item_9": "2"})
    assert sent.status_code == 200, sent.text
    sub = (await in_tenant(db, org.slug, "SELECT id, journal_entry_id FROM form_submissions"))[0]
    entry = await in_tenant(db, org.slug, "SELECT kind, visibility FROM journal_entries WHERE id = :e", {"e": sub[1]})
    assert entry == [("form_submission", "shared")]
    completed = await in_tenant(db, org.slug, "SELECT payload FROM outbox_events WHERE type = 'FORM_SUBMISSION_COMPLETED'")
    assert len(completed) == 1 and completed[0][0]["submission_id"] == str(sub[0]) and completed[0][0]["entry_id"] == str(sub[1])
    assert "item_9" not in str(completed[0][0])
    alerts = await in_tenant(db, org.slug, "SELECT staff_id, source_kind, source_id, severity FROM staff_alerts")
    assert {str(a[0]) for a in alerts} == {org.owner_id, therapist_id}
    assert all(a[1] == "form_submission" and a[2] == sub[1] and a[3] == "critical" for a in alerts)
    # clinicians read answers, scores and the series; the front desk sees who and when only
    as_therapist = (await client.get(api(org, "/form-submissions"), params={"patient_id": pid}, headers=bearer(therapist["access_token"]))).json()["items"]
    assert as_therapist[0]["scores"]["total"] == 10 and as_therapist[0]["scores"]["risk_flag"] is True
    assert as_therapist[0]["scores"]["band"] == "moderate" and as_therapist[0]["answers"]["item_9"] == "2"
    as_assistant = (await client.get(api(org, "/form-submissions"), params={"patient_id": pid}, headers=bearer(assistant["access_token"]))).json()["items"]
    assert as_assistant[0]["answers"] is None and as_assistant[0]["scores"] is None and as_assistant[0]["measure"] is None
    refused = await client.get(api(org, f"/form-submissions/{sub[0]}"), headers=bearer(assistant["access_token"]))
    assert refused.status_code == 403
    assert (await client.get(api(org, f"/patients/{pid}/measures/phq9"), headers=bearer(assistant["access_token"]))).status_code == 403
    series = (await client.get(api(org, f"/patients/{pid}/measures/phq9"), headers=bearer(therapist["access_token"]))).json()
    assert series["max_total"] == 27 and [p["total"] for p in series["points"]] == [10]
    # the one-time link is used: the second visit gets the used page, never the form
    again = await browser.get(path_of(link["url"]))
    assert again.status_code == 410 and "item_1" not in again.text
    resent = await browser.http.post(path_of(link["url"]), data={**PHQ9_ANSWERS, "item_9": "0", "_csrf_token": await _token(browser)})
    assert resent.status_code == 410
    assert len(await in_tenant(db, org.slug, "SELECT id FROM form_submissions")) == 1


async def _token(browser: Browser) -> str:
    return await browser.csrf("/login")


async def test_expired_and_revoked_links_show_no_form(client, browser: Browser, db):
    org = await signup(client)
    pid = await new_patient(client, org)
    gad7 = await system_form(client, org, "gad7", "ca")
    expired = await assign(client, org, gad7["id"], pid)
    revoked = await assign(client, org, gad7["id"], pid)
    await in_tenant(db, org.slug, "UPDATE form_assignments SET expires_at = now() - interval '1 minute' WHERE id = :i", {"i": uuid.UUID(expired["id"])})
    withdrawn = await client.post(api(org, f"/form-assignments/{revoked['id']}/revoke"), headers=org.headers)
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "revoked"
    for link, words in ((expired, "ha caducat"), (revoked, "retirat")):
        page = await browser.get(path_of(link["url"]))
        assert page.status_code == 410 and 'name="item_1"' not in page.text and words in page.text, page.text
    listed = (await client.get(api(org, "/form-assignments"), params={"patient_id": pid}, headers=org.headers)).json()["items"]
    assert sorted(a["state"] for a in listed) == ["expired", "revoked"]
    unknown = await browser.get(f"/p/{org.slug}/f/{'A' * 43}")
    assert unknown.status_code == 404
    hostile = await browser.get(f"/p/{org.slug}/f/<script>")
    assert hostile.status_code == 404 and "<script>" not in hostile.text


async def test_twenty_concurrent_submissions_of_one_link_accept_exactly_one(client, app, db):
    org = await signup(client)
    pid = await new_patient(client, org)
    phq9 = await system_form(client, org, "phq9", "en")
    link = await assign(client, org, phq9["id"], pid)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        browser = Browser(http)
        token = await browser.csrf(path_of(link["url"]))
        data = {**PHQ9_ANSWERS, "item_9": "0", "_csrf_token": token}
        results = await asyncio.gather(*(http.post(path_of(link["url"]), data=data) for _ in range(20)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [410] * 19, statuses
    assert len(await in_tenant(db, org.slug, "SELECT id FROM form_submissions")) == 1
    assert len(await in_tenant(db, org.slug, "SELECT id FROM journal_entries WHERE kind = 'form_submission'")) == 1


async def _public_link(client, org, template="intake", language="en") -> str:
    form = await system_form(client, org, template, language)
    linked = await client.post(api(org, f"/forms/{form['id']}/public-link"), headers=org.headers)
    assert linked.status_code == 200
    return path_of(linked.json()["public_url"])


INTAKE = {"first_name": "Ana", "email": "ana@example.org"}


async def test_the_honeypot_stores_nothing(client, browser: Browser, db):
    org = await signup(client)
    path = await _public_link(client, org)
    trapped = await browser.submit(path, {**INTAKE, "_homepage": "http://spam.example"})
    assert trapped.status_code == 200
    assert await in_tenant(db, org.slug, "SELECT id FROM form_submissions") == []
    kept = await browser.submit(path, INTAKE)
    assert kept.status_code == 200 and len(await in_tenant(db, org.slug, "SELECT id FROM form_submissions")) == 1
    completed = await in_tenant(db, org.slug, "SELECT payload FROM outbox_events WHERE type = 'FORM_SUBMISSION_COMPLETED'")
    assert "patient_id" not in completed[0][0] and "Ana" not in str(completed[0][0])


@pytest.mark.parametrize(
    ("data", "status", "field"),
    [
        ({**INTAKE, "reason": "x" * 5001}, 422, "reason"),
        ({**INTAKE, "first_name": "A" * 501}, 422, "first_name"),
        ({**INTAKE, "reason": "x" * 4000, "referral": "y" * 400, "last_name": "z" * 400}, None, None),
        ({**INTAKE, "first_name": "An\x00a"}, 422, "first_name"),
        ({**INTAKE, "email": "not-an-email"}, 422, "email"),
        ({**INTAKE, "birth_date": "1850-01-01"}, 422, "birth_date"),
        ({**INTAKE, "language": "xx"}, 422, "language"),
        ({"email": "ana@example.org"}, 422, "first_name"),
    ],
    ids=["long-text", "short-text", "within-limits", "nul", "email", "old-date", "choice", "required"],
)
async def test_bad_answers_are_named_beside_their_field_and_typed_values_stay(client, browser: Browser, db, data, status, field):
    org = await signup(client)
    path = await _public_link(client, org)
    response = await browser.submit(path, data)
    if status is None:
        assert response.status_code == 200, response.text
        return
    assert response.status_code == status, response.text
    assert f'id="e-{field}"' in response.text and 'aria-invalid="true"' in response.text
    assert 'value="ana@example.org"' in response.text or field == "email" or "email" not in data
    assert "\x00" not in response.text
    assert await in_tenant(db, org.slug, "SELECT id FROM form_submissions") == []


async def test_a_submission_over_the_total_size_and_invalid_utf8_are_refused(client, browser: Browser, db):
    org = await signup(client)
    path = await _public_link(client, org)
    huge = await browser.submit(path, {**INTAKE, **{"reason": "é" * 4999, "referral": "€" * 499, "last_name": "€" * 499}, "unknown_" + "x" * 10: "y" * 40000})
    assert huge.status_code in (413, 422)
    token = await browser.csrf(path)
    body = b"first_name=%FF%FE%FA&email=ana%40example.org&_csrf_token=" + token.encode()
    garbled = await browser.http.post(path, content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert 400 <= garbled.status_code < 500
    assert await in_tenant(db, org.slug, "SELECT id FROM form_submissions") == []


async def test_public_submissions_are_rate_limited_per_address_and_per_form(settings, db, client):
    limits = RateLimits({**RateLimits().scaled(1000).limits, "form:address": Limit(3, 900), "form:form": Limit(5, 3600)})
    app = create_app(settings, database=db, rate_limits=limits)
    org = await signup(client)
    path = await _public_link(client, org)

    async def send(address: str) -> int:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return (await Browser(http).submit(path, INTAKE)).status_code

    first = [await send("10.0.0.1") for _ in range(4)]
    assert first == [200, 200, 200, 429]
    second = [await send("10.0.0.2") for _ in range(3)]
    assert second == [200, 200, 429]  # the form's own limit (5) is reached whatever the address
    assert len(await in_tenant(db, org.slug, "SELECT id FROM form_submissions")) == 5


async def test_sharing_gives_qr_codes_and_a_whatsapp_link_in_the_organizations_language(client):
    org = await signup(client)
    form = await system_form(client, org, "intake", "en")
    assert (await client.get(api(org, f"/forms/{form['id']}/share"), headers=org.headers)).status_code == 404  # no public link yet
    await client.post(api(org, f"/forms/{form['id']}/public-link"), headers=org.headers)
    share = (await client.get(api(org, f"/forms/{form['id']}/share"), params={"phone": "+34 600 11 22 33"}, headers=org.headers)).json()
    assert share["whatsapp_url"].startswith("https://wa.me/34600112233?text=") and share["url"] in share["text"]
    svg = await client.get(share["qr_svg"], headers=org.headers)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    png = await client.get(share["qr_png"], headers=org.headers)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    off = await client.delete(api(org, f"/forms/{form['id']}/public-link"), headers=org.headers)
    assert off.json()["public_url"] is None
    assert (await client.get(share["qr_png"], headers=org.headers)).status_code == 404


# -- the workspace's forms pages --------------------------------------------------------------------


async def test_workspace_forms_share_assign_and_show_scores_to_clinicians_only(client, browser: Browser, other_browser: Browser, db):
    org = await signup(client)
    assistant_email, _, _ = await add_member(client, db, org, "ASSISTANT")
    pid = await new_patient(client, org, phone="+34 611 22 33 44")
    await browser.login(org.owner_email)
    listed = await browser.get(f"/o/{org.slug}/forms")
    assert listed.status_code == 200 and 'href="/o/' + org.slug + '/forms"' in listed.text
    opened = await browser.submit(f"/o/{org.slug}/forms/system", {"template": "phq9", "language": "es"}, form_page=f"/o/{org.slug}/forms")
    assert opened.status_code == 303
    form_path = opened.headers["location"]
    switched = await browser.submit(f"{form_path}/public-link", {"action": "on"}, form_page=form_path)
    assert switched.status_code == 303
    page = await browser.get(form_path)
    assert "https://wa.me/?text=" in page.text and f"{form_path}/qr.svg" in page.text
    svg = await browser.get(f"{form_path}/qr.svg")
    assert svg.status_code == 200 and b"<svg" in svg.content
    assert (await browser.get(f"{form_path}/qr.png")).content.startswith(b"\x89PNG")
    made = await browser.submit(f"{form_path}/assign", {"patient_id": pid, "expires_in_days": "3"}, form_page=form_path)
    assert made.status_code == 200, made.text
    link = re.search(r'id="f-created-url" type="text" readonly value="([^"]+)"', made.text).group(1)
    assert "https://wa.me/34611223344?text=" in made.text
    async with httpx.AsyncClient(transport=browser.http._transport, base_url="http://testserver") as http:
        patient = Browser(http)
        sent = await patient.submit(path_of(link), {**PHQ9_ANSWERS, "item_9": "3"})
        assert sent.status_code == 200
    person = await browser.get(f"/o/{org.slug}/people/{pid}")  # the answers in the journal, the alert's source
    assert person.status_code == 200 and "entry-" in person.text
    as_owner = await browser.get(form_path)
    assert "Ada Paz" in as_owner.text and "11 · " in as_owner.text and "badge-risk" in as_owner.text
    await other_browser.login(assistant_email)
    as_assistant = await other_browser.get(form_path)
    assert as_assistant.status_code == 200 and "Ada Paz" in as_assistant.text
    assert "11 · " not in as_assistant.text and "badge-risk" not in as_assistant.text
    bad = await browser.submit(f"{form_path}/assign", {"patient_id": "nobody", "expires_in_days": "3"}, form_page=form_path)
    assert bad.status_code == 422 and 'id="e-patient_id"' in bad.text


async def test_an_anonymous_phq9_with_item_9_alerts_the_owners(client, browser: Browser, db):
    org = await signup(client)
    path = await _public_link(client, org, "phq9", "it")
    sent = await browser.submit(path, {**PHQ9_ANSWERS, "item_9": "1"})
    assert sent.status_code == 200 and "Grazie" in sent.text
    sub = (await in_tenant(db, org.slug, "SELECT id, patient_id, journal_entry_id FROM form_submissions"))[0]
    assert sub[1] is None and sub[2] is None  # no patient: no journal entry
    alerts = await in_tenant(db, org.slug, "SELECT staff_id, patient_id, source_kind, source_id FROM staff_alerts")
    assert [(str(a[0]), a[1], a[2], a[3]) for a in alerts] == [(org.owner_id, None, "form_submission", sub[0])]


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({**CUSTOM, "fields": [{**CUSTOM["fields"][0], "label": "Nom\x00bre"}]}, "definition.fields[0].label"),
        ({**CUSTOM, "fields": [{**CUSTOM["fields"][0], "colour": "red"}]}, "definition.fields[0].colour"),
        ({**CUSTOM, "fields": [{**CUSTOM["fields"][0], "type": "signature"}]}, "definition.fields[0].type"),
        ({**CUSTOM, "fields": [{**CUSTOM["fields"][0], "required": "yes"}]}, "definition.fields[0].required"),
        ({**CUSTOM, "fields": [{**CUSTOM["fields"][0], "key": "Bad Key"}]}, "definition.fields[0].key"),
        ({**CUSTOM, "fields": []}, "definition.fields"),
        ({**CUSTOM, "language": "fr"}, "definition.language"),
        ({**CUSTOM, "title": "x" * 201}, "definition.title"),
        ({**CUSTOM, "measure": "phq9"}, "measure"),
    ],
    ids=["nul", "unknown", "type", "no-coercion", "key", "empty", "language", "long-title", "measure"],
)
async def test_hostile_definitions_are_refused_naming_the_field(client, definition, field):
    org = await signup(client, tier="PRO")
    response = await client.post(api(org, "/forms"), json={"key": "hostile", "definition": definition}, headers=org.headers)
    assert response.status_code in (400, 422), response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.json()
    assert (await client.get(api(org, "/forms"), headers=org.headers)).json() == []


async def test_an_anonymous_submission_is_handed_to_the_patient_a_lead_became(client, browser: Browser, db, settings):
    from anima.domains.audit.services import Actor
    from anima.domains.forms import services as forms
    from anima.jobs.runner import tenant_transaction
    from anima.problems import Conflict
    from anima.runtime import build_runtime
    from tests.integration.events_support import tenant_id_of

    org = await signup(client)
    path = await _public_link(client, org, "phq9", "en")
    assert (await browser.submit(path, {**PHQ9_ANSWERS, "item_9": "2"})).status_code == 200
    sub_id = (await in_tenant(db, org.slug, "SELECT id FROM form_submissions"))[0][0]
    pid = uuid.UUID(await new_patient(client, org))
    runtime, tid = build_runtime(settings, db), await tenant_id_of(db, org.slug)
    actor = Actor(uuid.UUID(org.owner_id), "OWNER", None, None)
    async with tenant_transaction(runtime, tid) as tj:
        assert (await forms.person_of(tj.session, tj.cipher, sub_id)) == forms.PersonDetails()  # PHQ-9 maps no details
        entry_id = await forms.attach_to_patient(tj.session, tj.cipher, actor, submission_id=sub_id, patient_id=pid)
    async with tenant_transaction(runtime, tid) as tj:
        with pytest.raises(Conflict):
            await forms.attach_to_patient(tj.session, tj.cipher, actor, submission_id=sub_id, patient_id=pid)
    rows = await in_tenant(db, org.slug, "SELECT patient_id, journal_entry_id FROM form_submissions")
    assert rows == [(pid, entry_id)]
    entries = await in_tenant(db, org.slug, "SELECT kind, visibility FROM journal_entries WHERE patient_id = :p", {"p": pid})
    assert entries == [("form_submission", "shared")]
    alerts = await in_tenant(db, org.slug, "SELECT patient_id, source_id FROM staff_alerts WHERE patient_id IS NOT NULL")
    assert alerts == [(pid, entry_id)]
    series = (await client.get(api(org, f"/patients/{pid}/measures/phq9"), headers=org.headers)).json()
    assert [p["total"] for p in series["points"]] == [10]
    completed = await in_tenant(db, org.slug, "SELECT count(*) FROM outbox_events WHERE type = 'FORM_SUBMISSION_COMPLETED'")
    assert completed == [(1,)]  # completed once


async def test_a_public_intake_becomes_a_lead_and_its_answers_reach_the_patient_it_converts_into(client, browser: Browser, db):
    org = await signup(client, tier="PRO")
    path = await _public_link(client, org, "intake", "es")
    assert (await browser.submit(path, {"first_name": "Lucía", "last_name": "Mar", "email": "lucia@example.org"})).status_code == 200
    (sub_id,) = (await in_tenant(db, org.slug, "SELECT id FROM form_submissions"))[0]
    leads = (await client.get(api(org, "/leads"), headers=org.headers)).json()["items"]
    assert len(leads) == 1 and leads[0]["stage"] == "NEW" and leads[0]["source"] == "PUBLIC_FORM", leads
    lead = (await client.get(api(org, f"/leads/{leads[0]['id']}"), headers=org.headers)).json()
    assert lead["first_name"] == "Lucía" and lead["email"] == "lucia@example.org"
    assert (await in_tenant(db, org.slug, "SELECT submission_id FROM leads")) == [(sub_id,)]
    # the names are sealed in the lead row like every contact detail
    assert "Lucía" not in str(await in_tenant(db, org.slug, "SELECT * FROM leads"))

    converted = await client.post(api(org, f"/leads/{lead['id']}/convert"), headers=org.headers)
    assert converted.status_code == 200, converted.text
    pid = converted.json()["patient_id"]
    assert (await in_tenant(db, org.slug, "SELECT patient_id FROM form_submissions")) == [(uuid.UUID(pid),)]
    kinds = await in_tenant(db, org.slug, "SELECT kind FROM journal_entries WHERE patient_id = :p", {"p": pid})
    assert kinds == [("form_submission",)]
    # a second submission of the same public form from the same address is a possible duplicate, never merged
    assert (await browser.submit(path, {"first_name": "Lucía", "email": "lucia@example.org"})).status_code == 200
    assert (await in_tenant(db, org.slug, "SELECT count(*) FROM leads")) == [(2,)]
    assert (await in_tenant(db, org.slug, "SELECT count(*) FROM lead_duplicates")) >= [(1,)]


async def test_a_public_phq9_captures_no_lead(client, browser: Browser, db):
    org = await signup(client)
    path = await _public_link(client, org, "phq9", "en")
    assert (await browser.submit(path, PHQ9_ANSWERS | {"item_9": "0"})).status_code == 200
    assert (await in_tenant(db, org.slug, "SELECT count(*) FROM form_submissions")) == [(1,)]
    assert (await in_tenant(db, org.slug, "SELECT count(*) FROM leads")) == [(0,)]
