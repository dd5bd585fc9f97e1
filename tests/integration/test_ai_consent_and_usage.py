"""Consent to AI processing before any analysis, and AI analyses counted per calendar month (UTC).

* Without a recorded consent (or after it is withdrawn) ``POST .../analyses`` answers 409
  ``ai-consent-required`` and Gemini is never called; the worker's analysis job refuses too. The
  consent's history is kept (append-only: an UPDATE is refused by the database).
* Each stored analysis counts against ``ai_analyses_per_month``; simultaneous analyses against the
  limit leave exactly the limit, the others get 403 ``plan-limit-reached``; the usage widget shows it.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from anima.ai.jobs import analyze_patient_job
from anima.billing.plans import plan_for
from anima.domains.patients.consent import AiConsentRequired
from anima.runtime import RUNTIME_KEY
from tests.conftest import add_member, bearer, signup
from tests.integration.events_support import in_tenant, tenant_id_of
from tests.integration.test_observatory import gclient, gemini_app, patient_with_notes, purl, stub  # noqa: F401 - fixtures


async def consent(client, org, pid, body, headers=None):
    return await client.put(purl(org, pid, "/ai-consent"), json=body, headers=headers or org.headers)


async def test_no_analysis_and_no_gemini_call_without_consent(gclient, stub, db):  # noqa: F811 - fixtures
    org = await signup(gclient)
    pid = await patient_with_notes(gclient, org, consent=False)
    stub.reset()
    refused = await gclient.post(purl(org, pid, "/analyses"), headers=org.headers)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"].endswith("/ai-consent-required") and problem["status"] == 409
    assert problem["errors"][0] == {"field": "ai_consent", "rule": "ai-consent-required", "message": "consent to AI processing is not recorded"}
    assert stub.calls == []

    bad = await consent(gclient, org, pid, {"given": True, "method": "telepathy"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "method"
    missing = await consent(gclient, org, pid, {"method": "verbal"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "given"

    _, assistant, assistant_id = await add_member(gclient, db, org, "ASSISTANT")
    given = await consent(gclient, org, pid, {"given": True, "method": "written"}, headers=bearer(assistant["access_token"]))
    assert given.status_code == 200, given.text
    assert given.json()["current"]["given"] is True and given.json()["current"]["recorded_by"] == assistant_id
    analysed = await gclient.post(purl(org, pid, "/analyses"), headers=org.headers)
    assert analysed.status_code == 201, analysed.text
    assert analysed.json()["source"] == "gemini" and len(stub.calls) == 1

    withdrawn = await consent(gclient, org, pid, {"given": False, "method": "portal"})
    assert withdrawn.status_code == 200
    again = await gclient.post(purl(org, pid, "/analyses"), headers=org.headers)
    assert again.status_code == 409 and "withdrawn" in again.json()["detail"]
    assert len(stub.calls) == 1

    state = (await gclient.get(purl(org, pid, "/ai-consent"), headers=org.headers)).json()
    assert state["current"]["given"] is False and state["current"]["method"] == "portal"
    assert [(h["given"], h["method"]) for h in state["history"]] == [(True, "written"), (False, "portal")]
    record = (await gclient.get(purl(org, pid), headers=org.headers)).json()
    assert record["ai_consent"]["given"] is False
    trail = (await gclient.get(purl(org, pid, "/audit"), headers=org.headers)).json()["items"]
    assert [(e["detail"]["given"], e["detail"]["method"]) for e in trail if e["action"] == "patient.ai_consent"] == [
        (True, "written"), (False, "portal")
    ]
    export = (await gclient.get(purl(org, pid, "/export"), headers=org.headers)).json()
    assert [(c["given"], c["method"]) for c in export["ai_consents"]] == [(True, "written"), (False, "portal")]
    assert export["patient"]["ai_consent"]["given"] is False
    # the history is append-only, whoever tries
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        await in_tenant(db, org.slug, "UPDATE ai_consents SET given = true")


async def test_the_analysis_job_refuses_without_consent(gclient, gemini_app, db):  # noqa: F811 - fixtures
    org = await signup(gclient)
    pid = await patient_with_notes(gclient, org, consent=False)
    tid = await tenant_id_of(db, org.slug)
    ctx = {RUNTIME_KEY: gemini_app.state[RUNTIME_KEY]}
    result = await analyze_patient_job(ctx, tenant_id=tid, patient_id=pid, requested_by=org.owner_id)
    assert result == {"status": "refused", "reason": AiConsentRequired.kind, "patient_id": pid}
    assert await in_tenant(db, org.slug, "SELECT count(*) FROM journal_entries WHERE kind = 'ai_analysis'") == [(0,)]
    await consent(gclient, org, pid, {"given": True, "method": "verbal"})
    result = await analyze_patient_job(ctx, tenant_id=tid, patient_id=pid, requested_by=org.owner_id)
    assert result["status"] == "analysed"


async def test_simultaneous_analyses_against_the_monthly_limit_leave_exactly_the_limit(client, db):
    org = await signup(client)  # BUILDER
    allowed = plan_for("BUILDER").limit("ai_analyses_per_month")
    pids = [await patient_with_notes(client, org, notes=(f"<p>Session {i}: tinc ganes de morir.</p>",)) for i in range(3)]
    attempts = allowed + 6

    async def analyse(i: int):
        return await client.post(purl(org, pids[i % len(pids)], "/analyses"), headers=org.headers)

    answers = await asyncio.gather(*(analyse(i) for i in range(attempts)))
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 201, 403}, statuses
    assert statuses.count(201) == allowed
    refused = [a.json() for a in answers if a.status_code == 403]
    assert refused, "some attempts must pass the limit"
    assert all(p["type"].endswith("/plan-limit-reached") and p["limit"] == "ai_analyses_per_month" and p["used"] == allowed for p in refused)
    # 200 is an identical analysis from the last hour handed back: not a new one, counts nothing
    assert statuses.count(200) + statuses.count(201) + len(refused) == attempts
    rows = await in_tenant(db, org.slug, "SELECT count(*), count(DISTINCT entry_id) FROM ai_analysis_usage")
    assert rows == [(allowed, allowed)]
    stored = await in_tenant(db, org.slug, "SELECT count(*) FROM journal_entries WHERE kind = 'ai_analysis'")
    assert stored == [(allowed,)]
    # a plan limit refuses no one access to clinical content: no denial lines
    assert await in_tenant(db, org.slug, "SELECT count(*) FROM audit_events WHERE action = 'clinical.access_denied'") == [(0,)]
    usage = (await client.get(f"/api/v1/orgs/{org.slug}/billing/usage", headers=org.headers)).json()
    row = next(r for r in usage["limits"] if r["limit"] == "ai_analyses_per_month")
    assert (row["used"], row["allowed"], row["over_limit"]) == (allowed, allowed, False)
    # a row of last month does not count in this one (months are calendar months in UTC)
    await in_tenant(
        db, org.slug,
        "INSERT INTO ai_analysis_usage (id, created_at, patient_id, source) "
        "VALUES (:i, date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 second', :p, 'local')",
        {"i": uuid.uuid4(), "p": pids[0]},
    )
    usage = (await client.get(f"/api/v1/orgs/{org.slug}/billing/usage", headers=org.headers)).json()
    assert next(r for r in usage["limits"] if r["limit"] == "ai_analyses_per_month")["used"] == allowed
