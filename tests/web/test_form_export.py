"""A patient's export carries their form submissions (template, version, time, answers and scores,
decrypted); the journal API refuses hand-written ``form_submission`` entries while the ones the forms
service wrote stay readable."""

from __future__ import annotations

from tests.conftest import signup
from tests.web.conftest import Browser
from tests.web.test_form_pages import CUSTOM, PHQ9_ANSWERS, api, assign, new_patient, path_of, system_form


async def test_the_export_holds_the_patients_form_submissions(client, browser: Browser):
    org = await signup(client, tier="PRO")
    pid = await new_patient(client, org)
    other = await new_patient(client, org, first_name="Otro")
    phq9 = await system_form(client, org)
    link = await assign(client, org, phq9["id"], pid)
    sent = await browser.submit(path_of(link["url"]), {**PHQ9_ANSWERS, "item_9": "0"})
    assert sent.status_code == 200, sent.text
    created = await client.post(api(org, "/forms"), json={"key": "welcome", "definition": CUSTOM}, headers=org.headers)
    assert created.status_code == 201, created.text
    edited = dict(CUSTOM, title="Bienvenida")
    assert (await client.put(api(org, f"/forms/{created.json()['id']}/definition"), json={"definition": edited}, headers=org.headers)).status_code == 200
    second = await assign(client, org, created.json()["id"], pid)
    assert (await browser.submit(path_of(second["url"]), {"name": "Ada", "story": "Duermo poco", "topics": ["sleep"]})).status_code == 200
    third = await assign(client, org, created.json()["id"], other)
    assert (await browser.submit(path_of(third["url"]), {"name": "Otro", "story": "no es de Ada"})).status_code == 200

    export = await client.get(api(org, f"/patients/{pid}/export"), headers=org.headers)
    assert export.status_code == 200, export.text
    forms = export.json()["forms"]
    assert [(f["key"], f["version"]) for f in forms] == [("phq9_es", 1), ("welcome", 2)]
    assert "PHQ-9" in forms[0]["template"] and forms[1]["template"] == "Bienvenida"  # the title of the version answered
    assert forms[0]["answers"]["item_1"] == "1" and forms[0]["scores"]["total"] == 8 and forms[0]["measure"] == "phq9"
    assert forms[1]["answers"] == {"name": "Ada", "story": "Duermo poco", "topics": ["sleep"]} and forms[1]["scores"] == {"risk_level": "LOW"}
    assert forms[0]["submitted_at"] <= forms[1]["submitted_at"] and forms[0]["submitted_at"].endswith("+00:00")
    assert "no es de Ada" not in export.text  # another patient's answers are not in this export

    # the journal entry the forms service wrote stays readable; a hand-written one is refused by its field and rule
    journal = (await client.get(api(org, f"/patients/{pid}/journal"), params={"kind": "form_submission"}, headers=org.headers)).json()
    assert len(journal["items"]) == 2
    entry = await client.get(api(org, f"/patients/{pid}/journal/{journal['items'][0]['id']}"), headers=org.headers)
    assert entry.status_code == 200 and entry.json()["kind"] == "form_submission"
    forged = await client.post(api(org, f"/patients/{pid}/journal"), json={"kind": "form_submission", "data": {"q": "x"}}, headers=org.headers)
    assert forged.status_code == 422, forged.text
    [error] = forged.json()["errors"]
    assert error["field"] == "kind" and error["rule"] == "forms-service-only" and "form" in error["message"]
    after = (await client.get(api(org, f"/patients/{pid}/journal"), params={"kind": "form_submission"}, headers=org.headers)).json()
    assert len(after["items"]) == 2
