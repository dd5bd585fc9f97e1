"""Refused attempts at clinical content reach the audit trail as ``clinical.access_denied``.

Through HTTP against the real database: the refusal rolls the request's transaction back, and the
trail line is still there (written in a transaction of its own), with actor, role, route, method,
patient, entry when known, request id and client address — never content. A plain "not found"
(an id that does not exist) is not a denial and leaves nothing.
"""

from __future__ import annotations

import uuid

from tests.conftest import add_member, bearer, signup
from tests.integration.events_support import in_tenant

NOTE = "<p>Private session content: nightmares about the accident.</p>"


def purl(org, pid: str, rest: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}/patients/{pid}{rest}"


async def denials(db, slug: str) -> list[dict]:
    rows = await in_tenant(
        db, slug,
        "SELECT actor_id, actor_role, patient_id, entry_id, request_id, client_address, detail "
        "FROM audit_events WHERE action = 'clinical.access_denied' ORDER BY occurred_at, id",
    )
    keys = ("actor_id", "actor_role", "patient_id", "entry_id", "request_id", "client_address", "detail")
    return [dict(zip(keys, (str(v) if isinstance(v, uuid.UUID) else v for v in row), strict=True)) for row in rows]


async def new_patient(client, org, headers=None, **extra) -> str:
    created = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Iris", **extra}, headers=headers or org.headers)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def test_an_assistant_at_the_journal_and_analyses_is_audited(client, db):
    org = await signup(client)
    pid = await new_patient(client, org)
    _, assistant, assistant_id = await add_member(client, db, org, "ASSISTANT")
    headers = {**bearer(assistant["access_token"]), "X-Request-ID": "req-denied-0001"}

    listed = await client.get(purl(org, pid, "/journal"), headers=headers)
    assert listed.status_code == 403
    assert listed.json()["request_id"] == "req-denied-0001"
    entry_id = str(uuid.uuid4())
    read = await client.get(purl(org, pid, f"/journal/{entry_id}"), headers={**headers, "X-Request-ID": "req-denied-0002"})
    assert read.status_code == 403
    analyse = await client.post(purl(org, pid, "/analyses"), headers={**headers, "X-Request-ID": "req-denied-0003"})
    assert analyse.status_code == 403
    clinical_write = await client.put(
        purl(org, pid), json={"clinical": {"risk_notes": "x"}}, headers={**headers, "X-Request-ID": "req-denied-0004"}
    )
    assert clinical_write.status_code == 403
    export = await client.get(purl(org, pid, "/export"), headers={**headers, "X-Request-ID": "req-denied-0005"})
    assert export.status_code == 403

    lines = await denials(db, org.slug)
    assert [d["request_id"] for d in lines] == [f"req-denied-000{i}" for i in range(1, 6)]
    for line in lines:
        assert line["actor_id"] == assistant_id and line["actor_role"] == "ASSISTANT"
        assert line["patient_id"] == pid and line["client_address"] == "127.0.0.1"
        assert line["detail"]["status"] == 403
    first, second, third, fourth, fifth = (d["detail"] for d in lines)
    assert first["method"] == "GET" and first["route"] == "/api/v1/orgs/{org_slug}/patients/{patient_id}/journal"
    assert first["reason"] == "role-not-allowed"
    assert lines[1]["entry_id"] == entry_id and second["route"].endswith("/journal/{entry_id}")
    assert third["method"] == "POST" and third["route"].endswith("/analyses")
    assert fourth["reason"] == "role-reads-no-clinical-content" and fourth["method"] == "PUT"
    assert fifth["route"].endswith("/export")
    # the refused write changed nothing, and the trail holds no content
    assert (await in_tenant(db, org.slug, "SELECT clinical_enc FROM patients WHERE id = :p", {"p": pid})) == [(None,)]
    # an owner reads the lines in the patient's trail
    trail = (await client.get(purl(org, pid, "/audit"), headers=org.headers)).json()["items"]
    assert sum(1 for e in trail if e["action"] == "clinical.access_denied") == 5


async def test_a_therapist_at_a_hidden_patient_or_anothers_private_entry_is_audited(client, db):
    org = await signup(client)
    _, t1, t1_id = await add_member(client, db, org, "THERAPIST")
    _, t2, t2_id = await add_member(client, db, org, "THERAPIST")
    h1, h2 = bearer(t1["access_token"]), bearer(t2["access_token"])
    shared_pid = await new_patient(client, org, therapist_ids=[t1_id, t2_id])
    private = await client.post(purl(org, shared_pid, "/journal"), json={"kind": "note", "html": NOTE}, headers=h1)
    assert private.status_code == 201
    entry_id = private.json()["id"]

    # another therapist's private entry: 404 as if absent, audited with the entry
    hidden = await client.get(purl(org, shared_pid, f"/journal/{entry_id}"), headers={**h2, "X-Request-ID": "req-private-001"})
    assert hidden.status_code == 404
    # an entry id that does not exist: a plain 404, not a denial
    missing = await client.get(purl(org, shared_pid, f"/journal/{uuid.uuid4()}"), headers=h2)
    assert missing.status_code == 404
    # changing another's entry: 403, audited
    edit = await client.patch(purl(org, shared_pid, f"/journal/{entry_id}"), json={"visibility": "private"}, headers=h2)
    assert edit.status_code == 404  # still invisible to them: private

    # the restricted policy hides a patient not assigned to t2
    other_pid = await new_patient(client, org, therapist_ids=[t1_id])
    policy = await client.put(f"/api/v1/orgs/{org.slug}/clinical-policy", json={"restrict_therapists_to_assigned": True}, headers=org.headers)
    assert policy.status_code == 200
    refused = await client.get(purl(org, other_pid), headers={**h2, "X-Request-ID": "req-hidden-0001"})
    assert refused.status_code == 404
    refused_journal = await client.get(purl(org, other_pid, "/journal"), headers=h2)
    assert refused_journal.status_code == 404
    nobody = await client.get(purl(org, str(uuid.uuid4())), headers=h2)
    assert nobody.status_code == 404

    lines = await denials(db, org.slug)
    assert all(d["actor_id"] == t2_id and d["actor_role"] == "THERAPIST" for d in lines)
    by_reason = [(d["detail"]["reason"], d["patient_id"], d["entry_id"]) for d in lines]
    assert by_reason == [
        ("private-entry-of-another", shared_pid, entry_id),
        ("private-entry-of-another", shared_pid, entry_id),
        ("patient-not-assigned", other_pid, None),
        ("patient-not-assigned", other_pid, None),
    ]
    assert lines[0]["request_id"] == "req-private-001" and lines[2]["request_id"] == "req-hidden-0001"
    assert [d["detail"]["status"] for d in lines] == [404, 404, 404, 404]
    serialized = str(lines)
    assert "nightmares" not in serialized and "accident" not in serialized


async def test_a_non_author_changing_a_shared_entry_is_audited(client, db):
    org = await signup(client)
    _, t1, t1_id = await add_member(client, db, org, "THERAPIST")
    pid = await new_patient(client, org, therapist_ids=[t1_id])
    shared = await client.post(purl(org, pid, "/journal"), json={"kind": "note", "html": NOTE, "visibility": "shared"}, headers=org.headers)
    entry_id = shared.json()["id"]
    edit = await client.patch(purl(org, pid, f"/journal/{entry_id}"), json={"html": "<p>changed</p>"}, headers=bearer(t1["access_token"]))
    assert edit.status_code == 403
    lines = await denials(db, org.slug)
    assert [(d["detail"]["reason"], d["entry_id"], d["detail"]["method"]) for d in lines] == [("not-the-author", entry_id, "PATCH")]
    # allowed reads and writes leave no denial
    assert (await client.get(purl(org, pid, f"/journal/{entry_id}"), headers=bearer(t1["access_token"]))).status_code == 200
    assert len(await denials(db, org.slug)) == 1
