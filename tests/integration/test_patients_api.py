"""Patients through the API: create/read/update/archive/list with search, roles, limits and bad input."""

from __future__ import annotations

import asyncio
import datetime
import uuid

from tests.conftest import add_member, signup


def url(org, rest: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}/patients{rest}"


CLINICAL = {"medical_history": "asthma", "psychological_history": "anxiety", "spiritual_history": "retreats", "risk_notes": "none"}


async def test_create_read_update_archive_and_search(client, db):
    org = await signup(client, tier="PRO")
    created = await client.post(
        url(org),
        json={"first_name": "Ada", "last_name": "Lovelace", "email": " Ada@Example.org ", "phone": "+34 600-11-22-33",
              "birth_date": "1985-12-10", "language": "pt-br", "tags": ["vip", "vip", "retreat"],
              "profile": {"referral": "friend"}, "clinical": CLINICAL},
        headers=org.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["label"] == "Patient"
    assert body["language"] == "pt-BR"
    assert body["tags"] == ["vip", "retreat"]
    assert body["clinical"] == CLINICAL and body["clinical_visible"] is True
    assert body["journey_stage"] == "inquiry"
    pid = body["id"]

    # search: name (contains), email and phone through the blind index (normalized)
    for params in ({"q": "lovel"}, {"q": "ada lov"}, {"email": "ADA@example.org"}, {"phone": "+34600112233"}):
        found = await client.get(url(org), params=params, headers=org.headers)
        assert found.status_code == 200, found.text
        assert [p["id"] for p in found.json()["items"]] == [pid], params
        assert found.json()["items"][0]["email"] == "Ada@Example.org"
    none = await client.get(url(org), params={"email": "other@example.org"}, headers=org.headers)
    assert none.json()["total"] == 0

    # terminology follows the settings
    assert (await client.patch(f"/api/v1/orgs/{org.slug}/settings", json={"people_label": "Client"}, headers=org.headers)).status_code == 200
    renamed = await client.put(f"/api/v1/orgs/{org.slug}/journey-stages/intake", json={"label": "First talk"}, headers=org.headers)
    assert renamed.status_code == 200 and renamed.json()["label"] == "First talk"
    updated = await client.put(url(org, f"/{pid}"), json={"journey_stage": "intake", "phone": None,
                                                          "clinical": {"risk_notes": "watch"}}, headers=org.headers)
    assert updated.status_code == 200, updated.text
    assert updated.json()["label"] == "Client"
    assert updated.json()["phone"] is None and updated.json()["clinical"] == {"risk_notes": "watch"}
    assert (await client.get(url(org), params={"stage": "intake"}, headers=org.headers)).json()["total"] == 1

    archived = await client.post(url(org, f"/{pid}/archive"), headers=org.headers)
    assert archived.status_code == 200 and archived.json()["archived_at"] is not None
    assert (await client.get(url(org), headers=org.headers)).json()["total"] == 0
    assert (await client.get(url(org), params={"archived": "true"}, headers=org.headers)).json()["total"] == 1
    restored = await client.post(url(org, f"/{pid}/restore"), headers=org.headers)
    assert restored.json()["archived_at"] is None


async def test_assistant_sees_no_clinical_content(client, db):
    org = await signup(client, tier="PRO")
    _, tokens, _ = await add_member(client, db, org, "ASSISTANT")
    assistant = {"Authorization": f"Bearer {tokens['access_token']}"}
    pid = (await client.post(url(org), json={"first_name": "Bo", "clinical": CLINICAL}, headers=org.headers)).json()["id"]
    read = await client.get(url(org, f"/{pid}"), headers=assistant)
    assert read.status_code == 200
    assert read.json()["clinical"] is None and read.json()["clinical_visible"] is False
    # assistants create and change non-clinical facts, never clinical ones
    made = await client.post(url(org), json={"first_name": "Cy", "phone": "600112233"}, headers=assistant)
    assert made.status_code == 201 and made.json()["clinical"] is None
    refused = await client.post(url(org), json={"first_name": "Di", "clinical": {"risk_notes": "x"}}, headers=assistant)
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "clinical"
    refused = await client.put(url(org, f"/{pid}"), json={"clinical": {"risk_notes": "x"}}, headers=assistant)
    assert refused.status_code == 403
    assert (await client.get(url(org, f"/{pid}/export"), headers=assistant)).status_code == 403
    assert (await client.get(url(org, f"/{pid}/journal"), headers=assistant)).status_code == 403


async def test_therapists_restricted_to_assigned_patients(client, db):
    org = await signup(client, tier="PRO")
    _, tokens, therapist_id = await add_member(client, db, org, "THERAPIST")
    therapist = {"Authorization": f"Bearer {tokens['access_token']}"}
    mine = (await client.post(url(org), json={"first_name": "Mine", "therapist_ids": [therapist_id]}, headers=org.headers)).json()["id"]
    other = (await client.post(url(org), json={"first_name": "Other"}, headers=org.headers)).json()["id"]
    assert (await client.get(url(org), headers=therapist)).json()["total"] == 2
    policy = await client.put(f"/api/v1/orgs/{org.slug}/clinical-policy", json={"restrict_therapists_to_assigned": True}, headers=org.headers)
    assert policy.status_code == 200
    listed = await client.get(url(org), headers=therapist)
    assert [p["id"] for p in listed.json()["items"]] == [mine]
    assert (await client.get(url(org, f"/{other}"), headers=therapist)).status_code == 404
    assert (await client.get(url(org, f"/{other}/journal"), headers=therapist)).status_code == 404
    # a restricted therapist keeps sight of the patients they create
    own = await client.post(url(org), json={"first_name": "New"}, headers=therapist)
    assert own.status_code == 201 and therapist_id in own.json()["therapist_ids"]
    assert (await client.put(f"/api/v1/orgs/{org.slug}/clinical-policy", json={"restrict_therapists_to_assigned": True},
                             headers=therapist)).status_code == 403


async def test_bad_input_names_field_and_rule(client, db):
    org = await signup(client, tier="PRO")
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    cases = [
        ({"first_name": "A", "birth_date": "1990-02-30"}, "birth_date", None),
        ({"first_name": "A", "birth_date": "not a date"}, "birth_date", None),
        ({"first_name": "A", "birth_date": tomorrow}, "birth_date", "range"),
        ({"first_name": "A", "birth_date": "1850-01-01"}, "birth_date", "range"),
        ({"first_name": "A", "language": "xx-invalid"}, "language", "bcp47"),
        ({"first_name": "A", "language": "klingon"}, "language", "bcp47"),
        ({"first_name": "A", "email": "not-an-email"}, "email", "email"),
        ({"first_name": "A", "phone": "12ab34567"}, "phone", "phone"),
        ({"first_name": "A", "journey_stage": "nowhere"}, "journey_stage", "known-stage"),
        ({"first_name": "A", "profile": {"risk_notes": "x"}}, "profile", "no-clinical-fields"),
        ({"first_name": "A", "therapist_ids": [str(uuid.uuid4())]}, "therapist_ids", "therapist"),
        ({"first_name": ""}, "first_name", None),
        ({"first_name": "A", "clinical": {"unknown": "x"}}, "clinical.unknown", None),
    ]
    for payload, field, rule in cases:
        response = await client.post(url(org), json=payload, headers=org.headers)
        assert response.status_code == 422, (payload, response.text)
        errors = response.json()["errors"]
        assert errors[0]["field"] == field, (payload, errors)
        if rule:
            assert errors[0]["rule"] == rule, (payload, errors)


async def test_unknown_and_foreign_patient_ids_are_404(client, db):
    org, other = await signup(client, tier="PRO"), await signup(client, tier="PRO")
    foreign = (await client.post(url(other), json={"first_name": "Theirs"}, headers=other.headers)).json()["id"]
    for pid in (str(uuid.uuid4()), foreign):
        for method, path, body in (
            ("GET", "", None), ("PUT", "", {"first_name": "X"}), ("POST", "/archive", None), ("GET", "/export", None),
            ("DELETE", "", None), ("GET", "/journal", None), ("POST", "/journal", {"kind": "note", "html": "<p>x</p>"}),
        ):
            response = await client.request(method, url(org, f"/{pid}{path}"), json=body, headers=org.headers)
            assert response.status_code == 404, (method, path, response.text)
    assert (await client.get(url(other, f"/{foreign}"), headers=other.headers)).status_code == 200


async def test_patient_limit_is_race_safe(client, db):
    org = await signup(client, tier="BUILDER")  # 3 patients
    results = await asyncio.gather(*[
        client.post(url(org), json={"first_name": f"P{i}"}, headers=org.headers) for i in range(6)
    ])
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 201, 201, 403, 403, 403], codes
    refused = next(r for r in results if r.status_code == 403).json()
    assert refused["limit"] == "patients" and refused["allowed"] == 3 and refused["upgrade_to"] == "PRO"
    # archiving frees a place; restoring past the limit is refused
    first = next(r for r in results if r.status_code == 201).json()["id"]
    assert (await client.post(url(org, f"/{first}/archive"), headers=org.headers)).status_code == 200
    assert (await client.post(url(org), json={"first_name": "Fourth"}, headers=org.headers)).status_code == 201
    assert (await client.post(url(org, f"/{first}/restore"), headers=org.headers)).status_code == 403
