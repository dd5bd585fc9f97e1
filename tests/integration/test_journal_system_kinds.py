"""Only the AI observatory writes analyses: the journal API refuses ``ai_analysis`` entries and the
``source``/``model`` keys that label them, on create, update and amendment, with a 422 naming the
field and the rule; nothing is stored and nothing is listed as an analysis."""

from __future__ import annotations

from tests.conftest import signup
from tests.integration.events_support import in_tenant


def purl(org, pid: str, rest: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}/patients/{pid}{rest}"


def only_error(response) -> tuple[str, str]:
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]["field"], errors[0]["rule"]


async def test_hand_made_analyses_are_refused(client, db):
    org = await signup(client)
    pid = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Nil"}, headers=org.headers)).json()["id"]
    fake = {"kind": "ai_analysis", "data": {"source": "gemini", "model": "gemini-2.5-flash", "synthesis": "all fine", "risk_level": "LOW"}}
    refused = await client.post(purl(org, pid, "/journal"), json=fake, headers=org.headers)
    assert refused.status_code == 422 and only_error(refused) == ("kind", "observatory-only")
    for key in ("source", "model"):
        labelled = await client.post(
            purl(org, pid, "/journal"), json={"kind": "audio_reference", "data": {key: "gemini", "uri": "s3://x/1"}}, headers=org.headers
        )
        assert labelled.status_code == 422 and only_error(labelled) == (f"data.{key}", "reserved-key")

    form = await client.post(purl(org, pid, "/journal"), json={"kind": "audio_reference", "data": {"uri": "s3://x/1"}}, headers=org.headers)
    assert form.status_code == 201
    entry = form.json()["id"]
    update = await client.patch(purl(org, pid, f"/journal/{entry}"), json={"data": {"source": "gemini"}}, headers=org.headers)
    assert update.status_code == 422 and only_error(update) == ("data.source", "reserved-key")
    assert (await client.post(purl(org, pid, f"/journal/{entry}/sign"), headers=org.headers)).status_code == 200
    amend = await client.post(
        purl(org, pid, f"/journal/{entry}/amendments"), json={"reason": "fix", "data": {"model": "x"}}, headers=org.headers
    )
    assert amend.status_code == 422 and only_error(amend) == ("data.model", "reserved-key")

    assert await in_tenant(db, org.slug, "SELECT count(*) FROM journal_entries WHERE kind = 'ai_analysis'") == [(0,)]
    analyses = (await client.get(purl(org, pid, "/analyses"), headers=org.headers)).json()
    assert analyses["total"] == 0


async def test_an_observatory_analysis_is_not_changed_by_hand(client, db):
    org = await signup(client)
    pid = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Nil"}, headers=org.headers)).json()["id"]
    await client.put(purl(org, pid, "/ai-consent"), json={"given": True, "method": "form"}, headers=org.headers)
    await client.post(purl(org, pid, "/journal"), json={"kind": "note", "html": "<p>Tinc ganes de morir.</p>"}, headers=org.headers)
    analysis = await client.post(purl(org, pid, "/analyses"), headers=org.headers)
    assert analysis.status_code == 201, analysis.text
    entry = analysis.json()["id"]
    changed = await client.patch(purl(org, pid, f"/journal/{entry}"), json={"visibility": "shared"}, headers=org.headers)
    assert changed.status_code == 422 and only_error(changed) == ("kind", "observatory-only")
