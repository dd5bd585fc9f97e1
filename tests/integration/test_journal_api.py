"""The clinical journal: sanitizing, size limit, signing and amendments, authorship, moved ciphertext."""

from __future__ import annotations

import sqlalchemy as sa

from anima.domains.journal.schemas import MAX_HTML_BYTES
from tests import clock
from tests.conftest import add_member, bearer, signup


def jurl(org, pid: str, rest: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}/patients/{pid}/journal{rest}"


async def new_patient(client, org) -> str:
    response = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "J"}, headers=org.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_notes_are_sanitized(client, db):
    org = await signup(client, tier="PRO")
    pid = await new_patient(client, org)
    dirty = (
        '<p onclick="steal()">Felt <b>calmer</b><script>alert(1)</script></p>'
        '<img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a><a href="https://ok.example">ok</a>'
        '<style>p{}</style><iframe src="https://evil.example"></iframe><svg onload="alert(4)"></svg>'
    )
    response = await client.post(jurl(org, pid), json={"kind": "note", "html": dirty}, headers=org.headers)
    assert response.status_code == 201, response.text
    html = response.json()["html"]
    assert response.json()["html_sanitized"] is True
    for bad in ("<script", "alert(", "onclick", "onerror", "onload", "javascript:", "<iframe", "<img", "<style", "<svg"):
        assert bad not in html, (bad, html)
    assert "<b>calmer</b>" in html and 'href="https://ok.example"' in html and 'rel="noopener noreferrer"' in html
    clean = await client.post(jurl(org, pid), json={"kind": "note", "html": "<p>plain</p>"}, headers=org.headers)
    assert clean.json()["html_sanitized"] is False
    only_script = await client.post(jurl(org, pid), json={"kind": "note", "html": "<script>x()</script>"}, headers=org.headers)
    assert only_script.status_code == 422 and only_script.json()["errors"][0]["rule"] == "not-empty"


async def test_size_limit_and_kind_rules(client, db):
    org = await signup(client, tier="PRO")
    pid = await new_patient(client, org)
    at_limit = "<p>" + "a" * (MAX_HTML_BYTES - 7) + "</p>"
    assert len(at_limit.encode()) == MAX_HTML_BYTES
    assert (await client.post(jurl(org, pid), json={"kind": "note", "html": at_limit}, headers=org.headers)).status_code == 201
    too_big = await client.post(jurl(org, pid), json={"kind": "note", "html": at_limit + "b"}, headers=org.headers)
    assert too_big.status_code == 413
    assert too_big.json()["errors"] == [{"field": "html", "rule": "max-size", "message": f"at most {MAX_HTML_BYTES} bytes of HTML"}]
    cases = [
        ({"kind": "note"}, "html", "required"),
        ({"kind": "note", "html": "<p>x</p>", "data": {}}, "data", "not-for-notes"),
        ({"kind": "audio_reference", "html": "<p>x</p>"}, "data", "required"),
        ({"kind": "form_submission", "data": {"q": "x"}}, "kind", "forms-service-only"),
        ({"kind": "audio_reference", "data": {"seconds": 3}}, "data.uri", "required"),
        ({"kind": "note", "html": "<p>x</p>", "occurred_at": clock.naive_iso(days=-1)}, "occurred_at", "timezone"),
        ({"kind": "dream", "html": "<p>x</p>"}, "kind", None),
        ({"kind": "note", "html": "<p>x</p>", "visibility": "public"}, "visibility", None),
    ]
    for payload, field, rule in cases:
        response = await client.post(jurl(org, pid), json=payload, headers=org.headers)
        assert response.status_code == 422, (payload, response.text)
        assert response.json()["errors"][0]["field"] == field, (payload, response.json())
        if rule:
            assert response.json()["errors"][0]["rule"] == rule
    ok = await client.post(jurl(org, pid), json={"kind": "audio_reference", "data": {"uri": "s3://a/b.ogg", "seconds": 30}}, headers=org.headers)
    assert ok.status_code == 201 and ok.json()["data"]["uri"] == "s3://a/b.ogg" and ok.json()["html"] is None


async def test_signed_note_is_locked_and_amendments_keep_the_original(client, db):
    org = await signup(client, tier="PRO")
    _, tokens, _ = await add_member(client, db, org, "THERAPIST")
    therapist = bearer(tokens["access_token"])
    pid = await new_patient(client, org)
    entry = (await client.post(jurl(org, pid), json={"kind": "note", "html": "<p>first</p>", "visibility": "shared"}, headers=therapist)).json()
    eid = entry["id"]
    edited = await client.patch(jurl(org, pid, f"/{eid}"), json={"html": "<p>second</p>"}, headers=therapist)
    assert edited.status_code == 200 and edited.json()["html"] == "<p>second</p>"
    # only the author changes or signs it (the owner reads it, shared)
    assert (await client.patch(jurl(org, pid, f"/{eid}"), json={"html": "<p>x</p>"}, headers=org.headers)).status_code == 403
    assert (await client.post(jurl(org, pid, f"/{eid}/sign"), headers=org.headers)).status_code == 403
    premature = await client.post(jurl(org, pid, f"/{eid}/amendments"), json={"reason": "r", "html": "<p>x</p>"}, headers=therapist)
    assert premature.status_code == 409
    signed = await client.post(jurl(org, pid, f"/{eid}/sign"), headers=therapist)
    assert signed.status_code == 200 and signed.json()["signed_at"]
    assert (await client.post(jurl(org, pid, f"/{eid}/sign"), headers=therapist)).status_code == 409
    locked = await client.patch(jurl(org, pid, f"/{eid}"), json={"html": "<p>rewrite</p>"}, headers=therapist)
    assert locked.status_code == 409
    amended = await client.post(
        jurl(org, pid, f"/{eid}/amendments"), json={"reason": "typo", "html": "<p>second, corrected<script>x</script></p>"}, headers=therapist
    )
    assert amended.status_code == 201, amended.text
    read = (await client.get(jurl(org, pid, f"/{eid}"), headers=org.headers)).json()
    assert read["html"] == "<p>second</p>"
    assert [(a["reason"], a["html"]) for a in read["amendments"]] == [("typo", "<p>second, corrected</p>")]


async def test_moved_ciphertext_fails_with_a_clear_error(client, db):
    org = await signup(client, tier="PRO")
    pid = await new_patient(client, org)
    a = (await client.post(jurl(org, pid), json={"kind": "note", "html": "<p>A</p>"}, headers=org.headers)).json()["id"]
    b = (await client.post(jurl(org, pid), json={"kind": "note", "html": "<p>B</p>"}, headers=org.headers)).json()["id"]
    async with db.admin.begin() as conn:
        schema = await conn.scalar(sa.text("SELECT schema_name FROM platform.tenants WHERE slug = :s"), {"s": org.slug})
        await conn.execute(
            sa.text(f'UPDATE "{schema}".journal_entries SET content_enc = (SELECT content_enc FROM "{schema}".journal_entries WHERE id = :a) WHERE id = :b'),
            {"a": a, "b": b},
        )
    response = await client.get(jurl(org, pid, f"/{b}"), headers=org.headers)
    assert response.status_code == 500
    problem = response.json()
    assert problem["type"].endswith("/undecryptable-record")
    assert f"journal_entries.content_enc row {b}" in problem["detail"] and "<p>A</p>" not in response.text
    assert (await client.get(jurl(org, pid, f"/{a}"), headers=org.headers)).json()["html"] == "<p>A</p>"
